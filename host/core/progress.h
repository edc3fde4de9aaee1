// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

namespace tandem {

/// The ninja-style status lines: overprinted in place on a terminal (TERM not dumb), one line
/// per event otherwise. Each kind of work has a slot of its own (`tandem run` shows the SVD in
/// slot 0 and the jobs in slot 1), drawn one under the other. Thread-safe. Writes to the FILE
/// it is given (cli/ passes stderr).
class ProgressLine {
 public:
  /// `enabled` false (--quiet) prints only failures. `terminal` forces (true) or denies (false)
  /// terminal behaviour; by default it is detected.
  ProgressLine(std::FILE* out, bool enabled, int terminal = -1);
  ~ProgressLine();

  /// Replaces the text of status slot `slot` (on a TTY); ignored when not a TTY.
  void status(const std::string& text, std::size_t slot = 0);
  /// A line that stays (an event): printed above the status line on a TTY.
  void event(const std::string& text);
  /// A failure: always printed, even when quiet.
  void failure(const std::string& text);
  /// Clears the status line (before the summary).
  void finish();

  bool is_tty() const { return tty_; }
  /// True when colour may be used (TTY and NO_COLOR unset).
  bool color() const { return color_; }

 private:
  void print_line(const std::string& text);
  void clear_locked();
  void draw_locked();
  std::FILE* out_;
  bool enabled_;
  bool tty_;
  bool color_;
  std::size_t lines_shown_ = 0;  // status lines on screen, the cursor at the end of the last
  std::vector<std::string> slots_;
  std::mutex mu_;
};

/// "0:42" / "1:02:03" from seconds.
std::string format_duration(double seconds);

/// "1 matrix", "3 matrices": `n` and the noun that goes with it.
std::string counted(long long n, const std::string& singular, const std::string& plural);

}  // namespace tandem
