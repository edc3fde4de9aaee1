// SPDX-License-Identifier: Apache-2.0
#include "core/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace tandem {

namespace {

int terminal_width(int fd) {
  winsize ws{};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10) return ws.ws_col;
  return 80;
}

}  // namespace

ProgressLine::ProgressLine(std::FILE* out, bool enabled, int terminal)
    : out_(out), enabled_(enabled) {
  const char* term = std::getenv("TERM");
  tty_ = terminal >= 0 ? terminal == 1
                       : isatty(fileno(out)) && !(term && std::strcmp(term, "dumb") == 0);
  color_ = tty_ && std::getenv("NO_COLOR") == nullptr;
}

ProgressLine::~ProgressLine() { finish(); }

// Moves to the first status line and clears it and everything below.
void ProgressLine::clear_locked() {
  if (lines_shown_ == 0) return;
  std::fputs("\r", out_);
  for (std::size_t i = 1; i < lines_shown_; ++i) std::fputs("\x1b[1A", out_);
  std::fputs("\x1b[J", out_);
  lines_shown_ = 0;
}

void ProgressLine::draw_locked() {
  // Elide to the terminal width so no line wraps (a wrapped line cannot be overprinted).
  const std::size_t width = static_cast<std::size_t>(terminal_width(fileno(out_))) - 1;
  for (const std::string& text : slots_) {
    if (text.empty()) continue;
    std::string shown = text.size() > width ? text.substr(0, width - 3) + "..." : text;
    std::fprintf(out_, "%s%s\x1b[K", lines_shown_ > 0 ? "\n" : "", shown.c_str());
    ++lines_shown_;
  }
}

void ProgressLine::status(const std::string& text, std::size_t slot) {
  if (!enabled_ || !tty_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (slots_.size() <= slot) slots_.resize(slot + 1);
  slots_[slot] = text;
  clear_locked();
  draw_locked();
  std::fflush(out_);
}

void ProgressLine::print_line(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  clear_locked();
  std::fprintf(out_, "%s\n", text.c_str());
  draw_locked();
  std::fflush(out_);
}

void ProgressLine::event(const std::string& text) {
  if (enabled_) print_line(text);
}

void ProgressLine::failure(const std::string& text) {
  print_line(color_ ? "\x1b[31m" + text + "\x1b[0m" : text);
}

void ProgressLine::finish() {
  std::lock_guard<std::mutex> lock(mu_);
  clear_locked();
  slots_.clear();
  std::fflush(out_);
}

std::string counted(long long n, const std::string& singular, const std::string& plural) {
  return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

std::string format_duration(double seconds) {
  long s = seconds < 0 ? 0 : static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

}  // namespace tandem
