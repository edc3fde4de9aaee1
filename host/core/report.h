// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "core/atomic_file.h"

namespace tandem {

/// A `--report FILE.json` written as the run goes: `{"command": ..., "items": [...],
/// "summary": {...}}`. Items stream to a temporary file as they finish (memory stays bounded
/// however many items there are); finish() adds the summary and renames the file into place,
/// so a report with its final name is always whole. Thread-safe.
class ReportWriter {
 public:
  /// `header` holds the top-level fields written before "items" (command, backend, options).
  /// Creates the report's temporary file now, before any work: a report that cannot be
  /// written is a UsageError ("cannot create the report: PATH: reason").
  ReportWriter(const std::string& path, const nlohmann::json& header);
  void add_item(const nlohmann::json& item);
  void finish(const nlohmann::json& summary);

 private:
  std::mutex mu_;
  AtomicFile file_;
  uint64_t offset_ = 0;
  bool first_ = true;
  void append(const std::string& text);
};

/// `value` as JSON text. File names are bytes on Linux, not always UTF-8 (an old scanner's
/// Latin-1 export): a byte that is not part of valid UTF-8 is written as \udcXX, as Python's
/// surrogateescape does, so `os.fsencode(json.load(f)[...])` gives the name back byte for byte.
std::string dump_json(const nlohmann::json& value, int indent = -1);

}  // namespace tandem
