// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tandem::jobs {

/// The subjects of a run: one row per subject, named columns shared by all rows. A plain list
/// has the single column "subject"; a TSV has its header's columns, the first being the subject.
struct SubjectList {
  /// Column names; `{name}` placeholders refer to them. Never empty.
  std::vector<std::string> columns;
  /// One entry per subject, each with exactly columns.size() values; values[0] is the subject.
  std::vector<std::vector<std::string>> rows;
  /// Where each row came from, for messages: its line in the file (from 1) or its position
  /// among --args (from 1). Same size as rows.
  std::vector<std::size_t> lines;
};

/// Reads subjects from `path` ("-" = standard input). A file whose name ends in `.tsv`, or whose
/// first line holds a tab, is a TSV with a header row (BIDS participants.tsv); otherwise one
/// subject per line, `#` comments and blank lines ignored. Throws InputError (file, line, reason)
/// when the file cannot be read (with the system's reason), is a directory, has a row whose
/// field count differs from the header's, or holds no subject at all.
SubjectList load_subjects(const std::string& path);

/// Subjects given on the command line (--args a b c).
SubjectList subjects_from_args(const std::vector<std::string>& args);

/// Quotes `text` for POSIX sh when it holds anything but [A-Za-z0-9_@%+=:,./-]: '...' with each
/// single quote written as '\''. The empty string becomes ''.
std::string shell_quote(const std::string& text);

/// GNU parallel style placeholders in command and output templates: `{}` and `{subject}` (the
/// subject), `{.}` (without its last extension), `{/}` (basename), `{//}` (dirname), `{/.}`
/// (basename without extension), `{#}` (job number from 1), `{%}` (worker slot from 1) and
/// `{column}` for every column. A brace group that looks like a name but is none of these is a
/// UsageError; braces around anything else (`awk '{print $1}'`) stay literal.
class Template {
 public:
  /// Parses `text`; throws UsageError naming `what` for an unknown placeholder.
  Template(const std::string& text, const std::vector<std::string>& columns,
           const std::string& what);

  /// Substitutes one subject's values; `quote` shell-quotes each substituted value.
  std::string render(const std::vector<std::string>& row, std::size_t seq, int slot,
                     bool quote) const;
  /// True when the template holds at least one placeholder.
  bool has_placeholder() const;
  /// True when it uses `{%}` (known only once the job has a slot).
  bool uses_slot() const;

 private:
  enum class Kind { kLiteral, kColumn, kNoExt, kBase, kDir, kBaseNoExt, kSeq, kSlot };
  struct Piece {
    Kind kind;
    std::string text;    // kLiteral only
    std::size_t column;  // kColumn only
  };
  std::vector<Piece> pieces_;
};

/// A job's command: direct argv (no shell) or `sh -c` with every substitution quoted.
class CommandTemplate {
 public:
  /// `args` is COMMAND ARG...; with no placeholder anywhere, `{}` is appended as the last
  /// argument (as GNU parallel does). Throws UsageError on an empty command or bad placeholder.
  CommandTemplate(std::vector<std::string> args, bool shell,
                  const std::vector<std::string>& columns);

  /// The argv to execute for one subject (`sh -c <command>` under --shell).
  std::vector<std::string> argv(const std::vector<std::string>& row, std::size_t seq,
                                int slot) const;
  /// The command as one line, as a shell would read it (joblog, --dry-run, report).
  std::string display(const std::vector<std::string>& row, std::size_t seq, int slot) const;
  /// True when rendering depends on the slot.
  bool uses_slot() const;

 private:
  bool shell_;
  std::vector<Template> args_;
};

}  // namespace tandem::jobs
