// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace tandem::io {

/// A parsed .npy header (format 1.0, 2.0 or 3.0).
struct NpyHeader {
  std::string descr;  ///< numpy dtype string as written, e.g. "<f8", ">i4", "|b1"
  bool fortran_order = false;
  std::vector<int64_t> shape;
  uint64_t data_offset = 0;  ///< bytes from the start of the .npy stream to the data
};

/// Parses the header at the start of `bytes` (at least the whole header). `where` names the
/// file (and member) in errors. Throws InputError ("not a .npy file (bad magic)", "corrupt
/// header: ...") naming `where`.
NpyHeader parse_npy_header(const void* bytes, std::size_t size, const std::string& where);

/// Builds a version 1.0 header (2.0 when it does not fit), padded to 64 bytes as numpy does.
std::string make_npy_header(DType dtype, const std::vector<int64_t>& shape);

/// A stack of `count()` matrices `rows()×cols()` from one .npy file or one .npz member: a 2-D
/// array is a stack of one, a 3-D array (B, m, n) a stack of B. Reads one matrix at a time from
/// an mmap (or a bounded stream for deflated members), never the whole array. Accepts
/// float16/32/64, integer and bool in either byte order and C or Fortran order; everything but
/// float32 converts to float64 (numpy's linalg rule). Complex, object, string, structured and
/// other dtypes, 1-D and ≥4-D arrays and truncated data are InputErrors naming the source.
/// Not thread-safe: one reader thread per MatrixStack.
class MatrixStack {
 public:
  virtual ~MatrixStack() = default;
  virtual int64_t count() const = 0;
  virtual int64_t rows() const = 0;
  virtual int64_t cols() const = 0;
  /// Dimensions of the stored array: 2 for a matrix, 3 for a stack (also a (1, m, n) one).
  virtual int ndim() const = 0;
  /// The compute type the matrices are delivered in.
  virtual DType dtype() const = 0;
  /// The dtype string stored in the file (for reports).
  virtual const std::string& stored_descr() const = 0;
  /// Copies matrix `index` (0-based, read in increasing order is fastest) into `dst`, row-major,
  /// native byte order, rows()*cols() elements of dtype().
  virtual void read(int64_t index, void* dst) = 0;
  /// "file.npy" or "file.npz:member" for messages.
  virtual const std::string& where() const = 0;
};

/// Opens a .npy file. Throws InputError (missing/unreadable file, bad magic, corrupt header,
/// unsupported dtype or dimensionality, data shorter than the header says).
std::unique_ptr<MatrixStack> open_npy(const std::string& path);

/// Writes a whole array as .npy atomically (temp + rename); for tests, demos and small outputs.
void write_npy(const std::string& path, DType dtype, const std::vector<int64_t>& shape,
               const void* data);

}  // namespace tandem::io
