// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

namespace tandem {

/// The ninja-style status line: overprinted in place on a terminal (TERM not dumb), one line per
/// event otherwise. Thread-safe. Writes to the FILE it is given (cli/ passes stderr).
class ProgressLine {
 public:
  /// `enabled` false (--quiet) prints only failures.
  ProgressLine(std::FILE* out, bool enabled);
  ~ProgressLine();

  /// Replaces the status text (on a TTY); ignored when not a TTY.
  void status(const std::string& text);
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
  std::FILE* out_;
  bool enabled_;
  bool tty_;
  bool color_;
  bool status_shown_ = false;
  std::string last_status_;
  std::mutex mu_;
};

/// "0:42" / "1:02:03" from seconds.
std::string format_duration(double seconds);

}  // namespace tandem
