// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>

namespace tandem::jobs {

/// Parses a duration: a plain number of seconds ("90", "1.5") or a number with one unit suffix
/// `s`, `m`, `h` or `d` ("90s", "30m", "2h"). Returns seconds; throws UsageError naming `what`.
double parse_duration(const std::string& text, const std::string& what);

/// Parses a byte size: a number with an optional binary suffix K, M, G or T (also "KB", "KiB",
/// case-insensitive; "4G" = 4 GiB). Returns bytes; throws UsageError naming `what`.
std::uint64_t parse_bytes(const std::string& text, const std::string& what);

/// A byte count for people, in the binary units parse_bytes reads: "512M", "23.4G", "1000T".
std::string format_bytes(std::uint64_t bytes);

}  // namespace tandem::jobs
