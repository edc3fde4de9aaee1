// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/npy.h"

namespace tandem::io {

/// Member names of an .npz archive without the ".npy" suffix, in archive order (numpy's
/// `np.load(f).files`). Throws InputError for a missing file or a corrupt archive.
std::vector<std::string> npz_members(const std::string& path);

/// Opens one member (stored or deflated, zip64 aware) as a MatrixStack; `member` without ".npy".
/// A stored member is read through mmap; a deflated one is inflated as a bounded stream in order
/// (reading an earlier index restarts the stream). A deflated Fortran-order 3-D member has its
/// matrices interleaved through the whole array, so at the first read it is inflated once into
/// an unlinked temporary file in $TMPDIR (else /tmp) and mapped. InputErrors about the archive
/// name `path`; those about the member name "path:member" (the stack's where()) as their file.
std::unique_ptr<MatrixStack> open_npz_member(const std::string& path, const std::string& member);

/// One array of an NpzWriter: name (without ".npy"), element type and shape.
struct NpzArraySpec {
  std::string name;
  DType dtype = DType::kFloat64;
  std::vector<int64_t> shape;
};

/// Writes an .npz (stored, zip64 when needed, readable by np.load) whose array sizes are known up
/// front, filled in any order: the file is laid out at construction under a temporary name, and
/// each write() puts a byte range of one array's data in place, so results of a stack can land
/// as they complete with memory bounded by one matrix. CRCs of the ranges are combined at
/// commit() (zlib crc32_combine). write() is thread-safe for disjoint ranges.
class NpzWriter {
 public:
  NpzWriter(const std::string& final_path, std::vector<NpzArraySpec> arrays);
  ~NpzWriter();  ///< discards the temporary unless committed
  NpzWriter(const NpzWriter&) = delete;
  NpzWriter& operator=(const NpzWriter&) = delete;

  /// Copies `bytes` bytes (native little-endian data) into array `array` at byte `offset` of its
  /// data. Ranges of one array must not overlap; together they must cover it before commit().
  void write(std::size_t array, uint64_t offset, const void* data, std::size_t bytes);
  /// Appends a small extra array (e.g. the indices of failed matrices) before commit.
  void add_array(const NpzArraySpec& spec, const void* data);
  /// Finishes the archive (CRCs, central directory), flushes and renames it to its final path,
  /// or to `other_path` when given. Throws Error if a range was never written.
  void commit(const std::string& other_path = "");

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Writes small in-memory arrays as an .npz in one go (atomic). `deflate` compresses members
/// (np.savez_compressed's format).
void write_npz(const std::string& path, const std::vector<NpzArraySpec>& specs,
               const std::vector<const void*>& data, bool deflate = false);

/// True when `path` is a complete, readable .npz holding every name in `names` (used by
/// --resume: only a whole, renamed output counts as done).
bool npz_is_complete(const std::string& path, const std::vector<std::string>& names);

/// As above for the arrays' names; with `check_layout`, each array must also have exactly the
/// spec's shape and dtype (little-endian, C order), so that an output made with other options
/// (e.g. economy instead of full U and Vh) does not count as done.
bool npz_is_complete(const std::string& path, const std::vector<NpzArraySpec>& arrays,
                     bool check_layout);

}  // namespace tandem::io
