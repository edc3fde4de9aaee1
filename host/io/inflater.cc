// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <utility>
#include <vector>

#include "core/error.h"
#include "io/inflate_stack.h"
#include "io/npy_layout.h"

namespace tandem::io {

namespace {
// Compressed input is handed to zlib a slice at a time; slices already inflated are dropped
// from the resident set, so a large member never stays mapped in memory as a whole.
constexpr uint64_t kSlice = uint64_t{4} << 20;
// No real header comes near this; a larger length means a corrupt stream, not a big allocation.
constexpr uint64_t kMaxHeader = uint64_t{1} << 24;
}  // namespace

Inflater::Inflater(std::shared_ptr<MappedFile> file, uint64_t offset, uint64_t size,
                   std::string where)
    : file_(std::move(file)), offset_(offset), size_(size), where_(std::move(where)) {
  if (inflateInit2(&z_, -MAX_WBITS) != Z_OK)  // raw deflate: zip has no zlib wrapper
    throw Error("zlib inflateInit2 failed for " + where_);
}

Inflater::~Inflater() { inflateEnd(&z_); }

void Inflater::restart() {
  inflateReset(&z_);
  z_.avail_in = 0;
  fed_ = 0;
  position_ = 0;
}

void Inflater::feed() {
  if (fed_ >= kSlice) file_->release(offset_, fed_ - kSlice);
  const uint64_t n = std::min(kSlice, size_ - fed_);
  z_.next_in = const_cast<Bytef*>(file_->data() + offset_ + fed_);
  z_.avail_in = static_cast<uInt>(n);
  fed_ += n;
}

void Inflater::read(uint8_t* dst, uint64_t n, const std::string& item) {
  file_->guarded(where_, item, [&] { inflate_into(dst, n, item); });
}

void Inflater::inflate_into(uint8_t* dst, uint64_t n, const std::string& item) {
  while (n > 0) {
    if (z_.avail_in == 0 && fed_ < size_) feed();
    const auto chunk = static_cast<uInt>(std::min<uint64_t>(n, uint64_t{1} << 30));
    z_.next_out = dst;
    z_.avail_out = chunk;
    const int rc = inflate(&z_, Z_NO_FLUSH);
    const uint64_t got = chunk - z_.avail_out;
    dst += got;
    n -= got;
    position_ += got;
    if (n == 0) break;
    if (rc == Z_STREAM_END || (rc == Z_BUF_ERROR && z_.avail_in == 0 && fed_ == size_))
      throw InputError(where_, item, "truncated data: the compressed stream ends early");
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      throw InputError(where_, item,
                       std::string("corrupt deflate data: ") + (z_.msg ? z_.msg : "zlib error"));
  }
}

void Inflater::skip(uint64_t n, const std::string& item) {
  std::vector<uint8_t> sink(std::min<uint64_t>(n, kSlice));
  while (n > 0) {
    const uint64_t step = std::min<uint64_t>(n, sink.size());
    read(sink.data(), step, item);
    n -= step;
  }
}

NpyHeader inflate_npy_header(Inflater& in, const std::string& where) {
  std::vector<uint8_t> buf(12);
  in.read(buf.data(), 10);
  if (buf[0] == 0x93 && buf[6] >= 2) in.read(buf.data() + 10, 2);  // 4-byte length from 2.0 on
  const uint64_t total = npy_header_size(buf.data(), in.position(), where);
  if (total > kMaxHeader)
    throw InputError(where, "", "corrupt header: header length " + std::to_string(total));
  const uint64_t have = in.position();
  buf.resize(total);
  in.read(buf.data() + have, total - have);
  return parse_npy_header(buf.data(), buf.size(), where);
}

}  // namespace tandem::io
