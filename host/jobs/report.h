// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "jobs/map_plan.h"

namespace tandem::jobs {

/// The --report document of a map run: `{"command": "map", "summary": {...}, "subjects": [...]}`
/// with one record per subject: subject, seq, command, attempts, start (ISO 8601 UTC),
/// duration_s, outcome, exit_code, signal, peak_rss_bytes, message, stdout/stderr log paths and
/// outputs (path, exists). `exit_code` is the process's own exit code (0, 1 or 130). A run of
/// one shard has `summary.shard` = {index, count, all_subjects} and records its subjects only.
nlohmann::json map_report(const MapResult& result, int exit_code);

/// Writes map_report() to `path` atomically (temporary name, then rename).
void write_map_report(const std::string& path, const MapResult& result, int exit_code);

/// The last `lines` lines of a text file (empty when unreadable), for failure summaries.
std::vector<std::string> tail_lines(const std::string& path, std::size_t lines);

/// The exit code a map run should end with: 130 interrupted, 1 any failure, else 0.
int map_exit_code(const MapResult& result);

}  // namespace tandem::jobs
