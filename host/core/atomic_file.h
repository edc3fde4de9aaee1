// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tandem {

/// A file written under a temporary name in its final directory and renamed into place by
/// commit(), so a file with its final name is always complete. Destroying an uncommitted
/// AtomicFile removes the temporary. Move-only; not thread-safe itself (pwrite on fd() is).
class AtomicFile {
 public:
  /// Creates `.<name>.tmp-<pid>-<n>` beside `final_path`; throws Error naming the path and
  /// what it is ("cannot create the report: ...").
  explicit AtomicFile(std::string final_path, const std::string& what = "output");
  ~AtomicFile();
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&& other) noexcept;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// The open descriptor of the temporary file (O_RDWR).
  int fd() const { return fd_; }
  const std::string& temp_path() const { return temp_path_; }
  const std::string& final_path() const { return final_path_; }

  /// Writes all of `size` bytes at `offset`; throws on error.
  void pwrite_all(const void* data, std::size_t size, std::uint64_t offset);
  /// Flushes, closes and renames to `final_path` (or to `other_path` when given).
  void commit(const std::string& other_path = "");
  /// Closes and removes the temporary now.
  void discard() noexcept;

 private:
  std::string final_path_;
  std::string temp_path_;
  int fd_ = -1;
};

/// Writes `content` to `path` atomically.
void write_file_atomic(const std::string& path, const std::string& content);

/// Removes leftover `.<name>.tmp-*` files of dead runs in `dir` (best effort).
void remove_stale_temporaries(const std::string& dir);

/// Removes leftover temporaries of dead runs for these final paths only (best effort), for a
/// run that shares its directories with runs on other machines (--shard), whose process IDs
/// mean nothing here.
void remove_stale_temporaries_of(const std::vector<std::string>& final_paths);

}  // namespace tandem
