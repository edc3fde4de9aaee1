// SPDX-License-Identifier: Apache-2.0
#include "smooth/fwhm_spec.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/error.h"

namespace tandem {

double parse_mm(const std::string& text, const std::string& flag) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v) || v < 0) {
    throw UsageError(flag + ": '" + text + "' is not a non-negative number of mm");
  }
  return v;
}

std::array<double, 3> parse_fwhm(const std::string& text, const std::string& flag) {
  std::vector<double> v;
  for (std::size_t start = 0;;) {
    const std::size_t comma = text.find(',', start);
    v.push_back(parse_mm(text.substr(start, comma - start), flag));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (v.size() == 1) v = {v[0], v[0], v[0]};
  if (v.size() != 3) {
    throw UsageError(flag + ": give one value or three (x,y,z), not '" + text + "'");
  }
  if (v[0] <= 0 && v[1] <= 0 && v[2] <= 0) {
    throw UsageError(flag + ": '" + text + "' smooths nothing: it must be > 0 on some axis");
  }
  return {v[0], v[1], v[2]};
}

std::string format_mm(double mm) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", mm);
  return text;
}

}  // namespace tandem
