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

ProgressLine::ProgressLine(std::FILE* out, bool enabled) : out_(out), enabled_(enabled) {
  const char* term = std::getenv("TERM");
  tty_ = isatty(fileno(out)) && !(term && std::strcmp(term, "dumb") == 0);
  color_ = tty_ && std::getenv("NO_COLOR") == nullptr;
}

ProgressLine::~ProgressLine() { finish(); }

void ProgressLine::status(const std::string& text) {
  if (!enabled_ || !tty_) return;
  std::lock_guard<std::mutex> lock(mu_);
  last_status_ = text;
  // Elide to the terminal width so the line never wraps (a wrapped line cannot be overprinted).
  std::string shown = text;
  std::size_t width = static_cast<std::size_t>(terminal_width(fileno(out_))) - 1;
  if (shown.size() > width) shown = shown.substr(0, width - 3) + "...";
  std::fprintf(out_, "\r%s\x1b[K", shown.c_str());
  std::fflush(out_);
  status_shown_ = true;
}

void ProgressLine::print_line(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  if (status_shown_) std::fputs("\r\x1b[K", out_);
  std::fprintf(out_, "%s\n", text.c_str());
  if (status_shown_ && !last_status_.empty()) std::fprintf(out_, "%s\x1b[K", last_status_.c_str());
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
  if (status_shown_) {
    std::fputs("\r\x1b[K", out_);
    std::fflush(out_);
    status_shown_ = false;
  }
  last_status_.clear();
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
