// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tandem {

/// True when `data` starts with the gzip magic bytes (1f 8b).
bool is_gzip(const std::uint8_t* data, std::size_t size);

/// Inflates an in-memory gzip stream of one or more members incrementally, so a consumer can
/// start on the first bytes while the rest is still compressed. Not thread-safe; move-only.
class GzipReader {
 public:
  /// `data` must outlive the reader; `file` names the stream in errors.
  GzipReader(const std::uint8_t* data, std::size_t size, std::string file);
  ~GzipReader();
  GzipReader(GzipReader&&) noexcept;
  GzipReader& operator=(GzipReader&&) noexcept;
  /// Inflates up to `n` bytes into `dst`; returns how many, fewer than `n` only at the end of the
  /// stream. Throws InputError (file, "", reason) when the stream is truncated or corrupt.
  std::size_t read(std::uint8_t* dst, std::size_t n);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// Inflates a gzip stream of one or more members (as written by gzip, pigz or
/// gzip_compress_parallel) into one buffer. Throws InputError naming `file` when the stream is
/// truncated or corrupt. Uses ISA-L igzip when built with it, else zlib.
std::vector<std::uint8_t> gzip_decompress(const std::uint8_t* data, std::size_t size,
                                          const std::string& file);

/// Compresses `size` bytes as a sequence of independent gzip members of about `member_bytes`
/// each, using up to `threads` threads. `level` follows zlib's 0..9 scale (mapped onto ISA-L's
/// 0..3 when ISA-L is used). The members concatenated form one valid .gz file; every gzip
/// reader (zlib, nibabel, nifti_clib) reads them as one stream.
std::vector<std::uint8_t> gzip_compress_parallel(const std::uint8_t* data, std::size_t size,
                                                 int level, int threads,
                                                 std::size_t member_bytes = 8u << 20);

/// Bytes of gzip_stored_member() for `size` bytes of payload: known before the payload is.
std::size_t gzip_stored_member_size(std::size_t size);

/// One gzip member holding `size` bytes in stored (uncompressed) deflate blocks. Its length
/// depends only on `size`, so a file can reserve room for it and write it last.
std::vector<std::uint8_t> gzip_stored_member(const std::uint8_t* data, std::size_t size);

/// The deflate implementation compiled in: "isa-l" or "zlib".
const char* gzip_backend_name();

namespace detail {
/// One gzip member of `size` bytes at zlib-scale `level`, appended to `out`. Implemented once per
/// deflate library (gzip_codec_isal.cc / gzip_codec_zlib.cc); CMake picks one.
void gzip_compress_member(const std::uint8_t* data, std::size_t size, int level,
                          std::vector<std::uint8_t>& out);
}  // namespace detail

}  // namespace tandem
