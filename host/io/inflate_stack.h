// SPDX-License-Identifier: Apache-2.0
// Internal to host/io: reading deflated .npz members as a bounded stream.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <memory>
#include <string>

#include "io/mapped_file.h"
#include "io/npy.h"

namespace tandem::io {

/// A raw-deflate stream over `size` compressed bytes at `offset` of a mapping, inflated on
/// demand in order. Errors are InputErrors naming `where`.
class Inflater {
 public:
  Inflater(std::shared_ptr<MappedFile> file, uint64_t offset, uint64_t size, std::string where);
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  /// Inflates exactly the next `n` bytes into `dst`; throws "truncated data" when the stream
  /// ends first and "corrupt deflate data" on a bad stream. `item` goes into the error.
  void read(uint8_t* dst, uint64_t n, const std::string& item = "");
  /// Inflates and discards the next `n` bytes.
  void skip(uint64_t n, const std::string& item = "");
  /// Starts again from the first byte.
  void restart();
  /// Bytes inflated since the start.
  uint64_t position() const { return position_; }

 private:
  void feed();
  void inflate_into(uint8_t* dst, uint64_t n, const std::string& item);  // read(), unguarded
  std::shared_ptr<MappedFile> file_;
  uint64_t offset_;
  uint64_t size_;
  std::string where_;
  z_stream z_{};
  uint64_t fed_ = 0;
  uint64_t position_ = 0;
};

/// Inflates and parses the .npy header at the start of the stream (leaves the stream at the data).
NpyHeader inflate_npy_header(Inflater& in, const std::string& where);

/// A MatrixStack over a deflated member whose npy stream inflates to `usize` bytes.
std::unique_ptr<MatrixStack> make_inflated_stack(std::shared_ptr<MappedFile> file, uint64_t offset,
                                                 uint64_t csize, uint64_t usize, std::string where);

}  // namespace tandem::io
