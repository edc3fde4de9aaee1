// SPDX-License-Identifier: Apache-2.0
#include "jobs/template.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <istream>

#include "core/error.h"

namespace tandem::jobs {

namespace {

std::string trim(const std::string& s) {
  auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  auto end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    auto tab = line.find('\t', start);
    out.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) return out;
    start = tab + 1;
  }
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

SubjectList parse_subjects(std::istream& in, const std::string& path) {
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  SubjectList list;
  std::size_t first = 0;
  while (first < lines.size() && (trim(lines[first]).empty() || trim(lines[first])[0] == '#')) {
    ++first;
  }
  bool tsv = ends_with(path, ".tsv") ||
             (first < lines.size() && lines[first].find('\t') != std::string::npos);
  if (!tsv) {
    list.columns = {"subject"};
    for (std::size_t i = 0; i < lines.size(); ++i) {
      std::string s = trim(lines[i]);
      if (s.empty() || s[0] == '#') continue;
      list.rows.push_back({s});
      list.lines.push_back(i + 1);
    }
    // A run of nothing would report success having done nothing.
    if (list.rows.empty()) throw InputError(path, "", "has no subjects");
    return list;
  }
  if (first == lines.size()) throw InputError(path, "", "TSV file has no header row");
  list.columns = split_tabs(lines[first]);
  for (auto& c : list.columns) c = trim(c);
  for (std::size_t i = first + 1; i < lines.size(); ++i) {
    if (trim(lines[i]).empty() || lines[i][0] == '#') continue;
    auto row = split_tabs(lines[i]);
    if (row.size() != list.columns.size()) {
      throw InputError(path, "line " + std::to_string(i + 1),
                       "has " + std::to_string(row.size()) + " fields, the header has " +
                           std::to_string(list.columns.size()));
    }
    if (trim(row[0]).empty()) {
      throw InputError(path, "line " + std::to_string(i + 1), "empty subject (first column)");
    }
    list.rows.push_back(std::move(row));
    list.lines.push_back(i + 1);
  }
  if (list.rows.empty()) throw InputError(path, "", "has no subjects, only the header row");
  return list;
}

bool is_placeholder_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '#' || c == '%' ||
         c == '.' || c == '/' || c == '-';
}

std::string dir_name(const std::string& s) {
  auto slash = s.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : s.substr(0, slash);
}

std::string base_name(const std::string& s) {
  auto slash = s.find_last_of('/');
  return slash == std::string::npos ? s : s.substr(slash + 1);
}

std::string without_ext(const std::string& s) {
  auto dot = s.find_last_of('.');
  auto slash = s.find_last_of('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return s;
  return s.substr(0, dot);
}

}  // namespace

SubjectList load_subjects(const std::string& path) {
  if (path == "-") return parse_subjects(std::cin, "<stdin>");
  auto unreadable = [&path](int err) {
    return InputError(path, "",
                      std::string("cannot read the subjects file: ") + std::strerror(err));
  };
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw unreadable(errno);
  // An ifstream opens a directory and then reads nothing, which would look like an empty list.
  if (S_ISDIR(st.st_mode)) throw InputError(path, "", "is a directory, not a subjects file");
  std::ifstream in(path);
  if (!in) throw unreadable(errno);
  return parse_subjects(in, path);
}

SubjectList subjects_from_args(const std::vector<std::string>& args) {
  SubjectList list;
  list.columns = {"subject"};
  for (const auto& a : args) {
    list.rows.push_back({a});
    list.lines.push_back(list.rows.size());
  }
  return list;
}

std::string shell_quote(const std::string& text) {
  bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string("_@%+=:,./-").find(c) != std::string::npos;
  });
  if (plain) return text;
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

Template::Template(const std::string& text, const std::vector<std::string>& columns,
                   const std::string& what) {
  std::string literal;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t close = text[i] == '{' ? text.find('}', i + 1) : std::string::npos;
    bool candidate = close != std::string::npos &&
                     std::all_of(text.begin() + i + 1, text.begin() + close, is_placeholder_char);
    if (!candidate) {
      literal += text[i++];
      continue;
    }
    std::string body = text.substr(i + 1, close - i - 1);
    Piece piece{Kind::kColumn, "", 0};
    auto col = std::find(columns.begin(), columns.end(), body);
    if (body.empty() || body == "subject") {
      piece.column = 0;
    } else if (col != columns.end()) {
      piece.column = static_cast<std::size_t>(col - columns.begin());
    } else if (body == ".") {
      piece.kind = Kind::kNoExt;
    } else if (body == "/") {
      piece.kind = Kind::kBase;
    } else if (body == "//") {
      piece.kind = Kind::kDir;
    } else if (body == "/.") {
      piece.kind = Kind::kBaseNoExt;
    } else if (body == "#") {
      piece.kind = Kind::kSeq;
    } else if (body == "%") {
      piece.kind = Kind::kSlot;
    } else {
      std::string known = "{}, {subject}, {.}, {/}, {//}, {/.}, {#}, {%}";
      for (std::size_t c = 1; c < columns.size(); ++c) known += ", {" + columns[c] + "}";
      throw UsageError(what + ": unknown placeholder {" + body + "} in '" + text +
                       "' (known: " + known + ")");
    }
    if (!literal.empty()) pieces_.push_back({Kind::kLiteral, std::move(literal), 0});
    literal.clear();
    pieces_.push_back(piece);
    i = close + 1;
  }
  if (!literal.empty()) pieces_.push_back({Kind::kLiteral, std::move(literal), 0});
}

std::string Template::render(const std::vector<std::string>& row, std::size_t seq, int slot,
                             bool quote) const {
  std::string out;
  const std::string& subject = row.at(0);
  for (const auto& p : pieces_) {
    std::string value;
    switch (p.kind) {
      case Kind::kLiteral:
        out += p.text;
        continue;
      case Kind::kColumn:
        value = row.at(p.column);
        break;
      case Kind::kNoExt:
        value = without_ext(subject);
        break;
      case Kind::kBase:
        value = base_name(subject);
        break;
      case Kind::kDir:
        value = dir_name(subject);
        break;
      case Kind::kBaseNoExt:
        value = without_ext(base_name(subject));
        break;
      case Kind::kSeq:
        value = std::to_string(seq);
        break;
      case Kind::kSlot:
        value = std::to_string(slot);
        break;
    }
    out += quote ? shell_quote(value) : value;
  }
  return out;
}

bool Template::has_placeholder() const {
  return std::any_of(pieces_.begin(), pieces_.end(),
                     [](const Piece& p) { return p.kind != Kind::kLiteral; });
}

bool Template::uses_slot() const {
  return std::any_of(pieces_.begin(), pieces_.end(),
                     [](const Piece& p) { return p.kind == Kind::kSlot; });
}

CommandTemplate::CommandTemplate(std::vector<std::string> args, bool shell,
                                 const std::vector<std::string>& columns)
    : shell_(shell) {
  if (args.empty() || args[0].empty()) throw UsageError("map: no command given after --");
  for (const auto& a : args) args_.emplace_back(a, columns, "map");
  bool any = std::any_of(args_.begin(), args_.end(),
                         [](const Template& t) { return t.has_placeholder(); });
  if (!any) args_.emplace_back("{}", columns, "map");
}

std::vector<std::string> CommandTemplate::argv(const std::vector<std::string>& row, std::size_t seq,
                                               int slot) const {
  if (shell_) return {"sh", "-c", display(row, seq, slot)};
  std::vector<std::string> out;
  out.reserve(args_.size());
  for (const auto& t : args_) out.push_back(t.render(row, seq, slot, false));
  return out;
}

std::string CommandTemplate::display(const std::vector<std::string>& row, std::size_t seq,
                                     int slot) const {
  std::string out;
  for (const auto& t : args_) {
    if (!out.empty()) out += ' ';
    // Under --shell the template text is shell code and only the substitutions are quoted;
    // without it each argument is one word, quoted whole so the line reads back the same.
    out += shell_ ? t.render(row, seq, slot, true) : shell_quote(t.render(row, seq, slot, false));
  }
  return out;
}

bool CommandTemplate::uses_slot() const {
  return std::any_of(args_.begin(), args_.end(), [](const Template& t) { return t.uses_slot(); });
}

}  // namespace tandem::jobs
