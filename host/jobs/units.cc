// SPDX-License-Identifier: Apache-2.0
#include "jobs/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace tandem::jobs {

namespace {

// Splits "30m" into 30 and "m"; false when the number part is missing or malformed.
bool split_number(const std::string& text, double& number, std::string& suffix) {
  const char* begin = text.c_str();
  char* end = nullptr;
  if (text.empty() || !(std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '.')) {
    return false;
  }
  number = std::strtod(begin, &end);
  if (end == begin || !std::isfinite(number) || number < 0) return false;
  suffix.clear();
  for (const char* p = end; *p; ++p) suffix += static_cast<char>(std::tolower(*p));
  return true;
}

}  // namespace

double parse_duration(const std::string& text, const std::string& what) {
  double number = 0;
  std::string suffix;
  if (split_number(text, number, suffix)) {
    if (suffix.empty() || suffix == "s") return number;
    if (suffix == "m") return number * 60;
    if (suffix == "h") return number * 3600;
    if (suffix == "d") return number * 86400;
  }
  throw UsageError(what + ": '" + text + "' is not a duration (examples: 90, 90s, 30m, 2h)");
}

std::uint64_t parse_bytes(const std::string& text, const std::string& what) {
  double number = 0;
  std::string suffix;
  if (split_number(text, number, suffix)) {
    if (suffix.size() > 1 && (suffix.substr(1) == "b" || suffix.substr(1) == "ib")) {
      suffix = suffix.substr(0, 1);
    }
    const char* units = "bkmgt";
    if (suffix.empty()) suffix = "b";
    const char* found = suffix.size() == 1 ? std::strchr(units, suffix[0]) : nullptr;
    if (found != nullptr) {
      return static_cast<std::uint64_t>(number * std::pow(1024.0, found - units));
    }
  }
  throw UsageError(what + ": '" + text + "' is not a size (examples: 512M, 4G)");
}

std::string format_bytes(std::uint64_t bytes) {
  const char* units = "BKMGT";
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  // One decimal only where it says something: 23.4G, but 512M and 1000T.
  const bool whole = value >= 100 || value == std::floor(value);
  std::snprintf(text, sizeof text, whole ? "%.0f%c" : "%.1f%c", value, units[unit]);
  return text;
}

}  // namespace tandem::jobs
