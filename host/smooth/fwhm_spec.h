// SPDX-License-Identifier: Apache-2.0
#pragma once
// The FWHM a user writes (`--fwhm 6`, `--fwhm 6,6,8`, a plan's `fwhm = "6,6,8"`), read by one
// rule for `tandem smooth` and for `tandem run`'s [smooth] table.

#include <array>
#include <string>

namespace tandem {

/// Parses a length in mm ("6", "4.5"): finite and ≥ 0. Throws UsageError
/// "FLAG: 'x' is not a non-negative number of mm".
double parse_mm(const std::string& text, const std::string& flag);

/// Parses an FWHM in mm: one value for every axis, or three (x,y,z); each ≥ 0 and not all 0.
/// Throws UsageError naming `flag`.
std::array<double, 3> parse_fwhm(const std::string& text, const std::string& flag = "--fwhm");

/// A length in mm as tandem writes it in names and messages: "%.6g" ("6", "4.5").
std::string format_mm(double mm);

}  // namespace tandem
