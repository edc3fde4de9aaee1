// SPDX-License-Identifier: Apache-2.0
// Internal to host/io: the parts of the zip format (PKWARE APPNOTE 6.3) that .npz files use:
// stored and deflated members, zip64 extensions, data descriptors (ignored: the central
// directory has the sizes), no encryption, one disk.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/mapped_file.h"

namespace tandem::io {

/// One member as the central directory describes it.
struct ZipEntry {
  std::string name;           ///< full name, e.g. "U.npy"
  uint16_t flags = 0;         ///< general purpose bits (bit 0: encrypted, bit 3: data descriptor)
  uint16_t method = 0;        ///< 0 stored, 8 deflated
  uint32_t crc = 0;           ///< CRC-32 of the uncompressed bytes
  uint64_t csize = 0;         ///< compressed size in bytes
  uint64_t usize = 0;         ///< uncompressed size in bytes
  uint64_t local_offset = 0;  ///< offset of the local file header
};

/// Zip method numbers.
constexpr uint16_t kZipStored = 0;
constexpr uint16_t kZipDeflated = 8;
/// Offset of the CRC-32 field inside a local file header (patched at commit).
constexpr uint64_t kLocalHeaderCrcOffset = 14;

namespace detail {
/// Sizes, offsets and counts at or above this are written with zip64 records. 0xFFFFFFFF in
/// production; tests lower it to exercise zip64 without writing 4 GiB. Set it before writing.
uint64_t& zip64_threshold();
}  // namespace detail

/// A zip archive read through a mapping: the central directory is parsed at construction.
/// Errors are InputErrors naming the archive (or "archive:member" for member errors).
class ZipArchive {
 public:
  /// Maps and parses `path`; throws InputError (missing file, not a zip, corrupt directory).
  explicit ZipArchive(const std::string& path);

  /// The members in central-directory order.
  const std::vector<ZipEntry>& entries() const { return entries_; }
  /// The member named exactly `name`, or nullptr.
  const ZipEntry* find(const std::string& name) const;
  /// Absolute offset of the member's (compressed) data after checking its local header, method
  /// and extent; throws InputError naming `where`.
  uint64_t data_offset(const ZipEntry& entry, const std::string& where) const;
  /// The mapping (shared with the stacks that read from it).
  const std::shared_ptr<MappedFile>& file() const { return file_; }
  const std::string& path() const { return path_; }

 private:
  // Both read the mapping: the constructor and data_offset() run them guarded.
  void parse_end_records();
  void parse_directory(uint64_t cd_offset, uint64_t cd_size, uint64_t count);
  uint64_t check_local_header(const ZipEntry& entry, const std::string& where) const;
  std::string path_;
  std::shared_ptr<MappedFile> file_;
  std::vector<ZipEntry> entries_;
};

/// The local file header (zip64 extra when a size reaches the threshold) for `entry`.
std::string zip_local_header(const ZipEntry& entry);

/// Central directory for `entries` placed at `cd_offset`, followed by the end records (zip64
/// end record and locator when needed): everything that ends the archive.
std::string zip_directory(const std::vector<ZipEntry>& entries, uint64_t cd_offset);

}  // namespace tandem::io
