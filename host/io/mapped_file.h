// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "io/mapped_read_guard.h"

namespace tandem::io {

/// A whole file mapped read-only (MAP_PRIVATE). Shared by the MatrixStacks that read from it;
/// unmapped when the last owner goes. Every read of data() goes through guarded(), so that
/// another program truncating the file fails that read instead of killing the process.
class MappedFile {
 public:
  /// Maps `path`; throws InputError naming `path` when it is missing, unreadable or not a file.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  /// Maps an already open descriptor (the caller keeps ownership of `fd`); `name` is for errors.
  static std::shared_ptr<MappedFile> from_fd(int fd, const std::string& name);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  /// First byte of the file (nullptr for an empty file).
  const uint8_t* data() const { return region_.data; }
  /// File size in bytes, when it was mapped.
  uint64_t size() const { return region_.size; }
  /// Runs `read()`, which reads data(), and returns its result; throws InputError(file, item,
  /// kFileShrank) when the file turned out shorter than its mapping (see read_mapped()).
  template <typename Read>
  auto guarded(const std::string& file, const std::string& item, Read&& read) const {
    return read_mapped(region_, file, item, std::forward<Read>(read));
  }
  /// Hints that the range will be read front to back (more read-ahead).
  void advise_sequential(uint64_t offset, uint64_t length) const;
  /// Drops the whole pages inside [offset, offset+length) from this process's resident set
  /// (they stay in the page cache), so streaming through a big file keeps RSS at one matrix.
  void release(uint64_t offset, uint64_t length) const;

 private:
  MappedFile(const uint8_t* data, uint64_t size) {
    region_.data = data;
    region_.size = size;
  }
  mutable MappedRegion region_;  // mutable: the SIGBUS handler marks it through const readers
};

}  // namespace tandem::io
