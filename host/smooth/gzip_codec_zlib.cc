// SPDX-License-Identifier: Apache-2.0
// gzip through zlib: the fallback where ISA-L is not installed.
#include <zlib.h>

#include <algorithm>

#include "core/error.h"
#include "smooth/gzip_codec.h"

namespace tandem {

const char* gzip_backend_name() { return "zlib"; }

namespace detail {

void gzip_compress_member(const std::uint8_t* data, std::size_t size, int level,
                          std::vector<std::uint8_t>& out) {
  z_stream zs{};
  // windowBits 15 + 16: gzip wrapper.
  if (deflateInit2(&zs, std::clamp(level, 0, 9), Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    throw Error("zlib deflateInit2 failed");
  }
  std::size_t start = out.size();
  out.resize(start + deflateBound(&zs, static_cast<uLong>(size)));
  zs.next_in = const_cast<Bytef*>(data);
  zs.avail_in = static_cast<uInt>(size);
  zs.next_out = out.data() + start;
  zs.avail_out = static_cast<uInt>(out.size() - start);
  int rc = deflate(&zs, Z_FINISH);
  out.resize(start + zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw Error("zlib deflate failed");
}

}  // namespace detail

struct GzipReader::State {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t pos = 0;
  std::string file;
  bool in_member = false;
  bool done = false;
  z_stream zs{};
  ~State() {
    if (in_member) inflateEnd(&zs);
  }
};

GzipReader::GzipReader(const std::uint8_t* data, std::size_t size, std::string file)
    : state_(std::make_unique<State>()) {
  state_->data = data;
  state_->size = size;
  state_->file = std::move(file);
}
GzipReader::~GzipReader() = default;
GzipReader::GzipReader(GzipReader&&) noexcept = default;
GzipReader& GzipReader::operator=(GzipReader&&) noexcept = default;

std::size_t GzipReader::read(std::uint8_t* dst, std::size_t n) {
  State& s = *state_;
  std::size_t produced = 0;
  while (produced < n && !s.done) {
    if (!s.in_member) {
      if (s.pos >= s.size ||
          std::all_of(s.data + s.pos, s.data + s.size, [](auto b) { return b == 0; })) {
        s.done = true;
        break;
      }
      s.zs = z_stream{};
      if (inflateInit2(&s.zs, 15 + 16) != Z_OK) throw Error("zlib inflateInit2 failed");
      s.in_member = true;
    }
    s.zs.next_in = const_cast<Bytef*>(s.data + s.pos);
    s.zs.avail_in = static_cast<uInt>(std::min<std::size_t>(s.size - s.pos, UINT32_MAX));
    s.zs.next_out = dst + produced;
    s.zs.avail_out = static_cast<uInt>(std::min<std::size_t>(n - produced, UINT32_MAX));
    const uInt before_out = s.zs.avail_out, before_in = s.zs.avail_in;
    int rc = inflate(&s.zs, Z_NO_FLUSH);
    produced += before_out - s.zs.avail_out;
    s.pos += before_in - s.zs.avail_in;
    if (rc == Z_STREAM_END) {
      inflateEnd(&s.zs);
      s.in_member = false;
    } else if (rc == Z_BUF_ERROR && s.pos >= s.size) {
      throw InputError(s.file, "", "truncated gzip stream");
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      throw InputError(s.file, "", "corrupt gzip stream");
    }
  }
  return produced;
}

}  // namespace tandem
