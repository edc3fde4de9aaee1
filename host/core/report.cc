// SPDX-License-Identifier: Apache-2.0
#include "core/report.h"

#include <cstdio>

#include "core/error.h"

namespace tandem {

namespace {

// While dumping, a byte that is not valid UTF-8 stands in as the code point kMarkBase + byte
// (plane 16, private use), which nlohmann::json writes through; the text then gets "\udcXX".
constexpr char32_t kMarkBase = 0x10FF00;

// Length of the valid UTF-8 sequence starting at s[i] (no overlong forms, no surrogates), or 0.
std::size_t utf8_length(const std::string& s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  char32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3F);
  }
  static constexpr char32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

std::string mark_invalid(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    if (const std::size_t n = utf8_length(s, i)) {
      out.append(s, i, n);
      i += n;
      continue;
    }
    const char32_t cp = kMarkBase + static_cast<unsigned char>(s[i++]);
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

nlohmann::json marked(const nlohmann::json& v) {
  if (v.is_string()) return mark_invalid(v.get_ref<const std::string&>());
  if (v.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : v) out.push_back(marked(e));
    return out;
  }
  if (v.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto it = v.begin(); it != v.end(); ++it) out[mark_invalid(it.key())] = marked(it.value());
    return out;
  }
  return v;
}

// The marks (F4 8F BC..BF xx in UTF-8) as "\udcXX".
std::string unmark(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto* b = reinterpret_cast<const unsigned char*>(text.data()) + i;
    if (i + 3 < text.size() && b[0] == 0xF4 && b[1] == 0x8F && (b[2] & 0xFC) == 0xBC) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\udc%02x", ((b[2] & 0x03) << 6) | (b[3] & 0x3F));
      out += escape;
      i += 4;
    } else {
      out += text[i++];
    }
  }
  return out;
}

AtomicFile create_report(const std::string& path) {
  try {
    return AtomicFile(path, "the report");
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(e.what());  // nothing has run yet: the command line is what is wrong
  }
}

}  // namespace

std::string dump_json(const nlohmann::json& value, int indent) {
  try {
    return value.dump(indent);
  } catch (const nlohmann::json::type_error&) {
    return unmark(marked(value).dump(indent));
  }
}

ReportWriter::ReportWriter(const std::string& path, const nlohmann::json& header)
    : file_(create_report(path)) {
  std::string head = dump_json(header, 1);
  // Re-open the header object so the items array streams inside it.
  head.erase(head.find_last_of('}'));
  while (!head.empty() && (head.back() == '\n' || head.back() == ' ')) head.pop_back();
  append(head + (header.empty() ? "" : ",") + "\n \"items\": [");
}

void ReportWriter::append(const std::string& text) {
  file_.pwrite_all(text.data(), text.size(), offset_);
  offset_ += text.size();
}

void ReportWriter::add_item(const nlohmann::json& item) {
  std::lock_guard<std::mutex> lock(mu_);
  append((first_ ? "\n  " : ",\n  ") + dump_json(item));
  first_ = false;
}

void ReportWriter::finish(const nlohmann::json& summary) {
  std::lock_guard<std::mutex> lock(mu_);
  append("\n ],\n \"summary\": " + dump_json(summary) + "\n}\n");
  file_.commit();
}

}  // namespace tandem
