// SPDX-License-Identifier: Apache-2.0
// gzip through ISA-L igzip: several times faster than zlib at its lowest levels.
#include <isa-l/igzip_lib.h>

#include <algorithm>
#include <memory>

#include "core/error.h"
#include "smooth/gzip_codec.h"

namespace tandem {

namespace {

// zlib's 0..9 onto igzip's 0..3: 0-1 fastest (1 is tandem's default), 2-5 middle, 6-9 best.
int isal_level(int zlib_level) {
  if (zlib_level <= 1) return zlib_level <= 0 ? 0 : 1;
  return zlib_level <= 5 ? 2 : 3;
}

std::size_t level_buffer_size(int level) {
  switch (level) {
    case 1:
      return ISAL_DEF_LVL1_DEFAULT;
    case 2:
      return ISAL_DEF_LVL2_DEFAULT;
    case 3:
      return ISAL_DEF_LVL3_DEFAULT;
    default:
      return ISAL_DEF_LVL0_DEFAULT;
  }
}

}  // namespace

const char* gzip_backend_name() { return "isa-l"; }

namespace detail {

void gzip_compress_member(const std::uint8_t* data, std::size_t size, int level,
                          std::vector<std::uint8_t>& out) {
  int lvl = isal_level(level);
  std::vector<std::uint8_t> level_buf(std::max<std::size_t>(level_buffer_size(lvl), 1));
  auto stream = std::make_unique<isal_zstream>();
  isal_deflate_init(stream.get());
  stream->level = static_cast<std::uint32_t>(lvl);
  stream->level_buf = level_buf.data();
  stream->level_buf_size = static_cast<std::uint32_t>(level_buf.size());
  stream->gzip_flag = IGZIP_GZIP;
  stream->end_of_stream = 1;
  stream->flush = NO_FLUSH;
  stream->next_in = const_cast<std::uint8_t*>(data);
  stream->avail_in = static_cast<std::uint32_t>(size);
  std::size_t start = out.size();
  // Static-Huffman level 0 can grow incompressible data by up to 1/8; grow and continue if needed.
  out.resize(start + size + size / 16 + 1024);
  std::size_t written = 0;
  for (;;) {
    stream->next_out = out.data() + start + written;
    stream->avail_out = static_cast<std::uint32_t>(out.size() - start - written);
    std::uint32_t before = stream->avail_out;
    int rc = isal_deflate(stream.get());
    written += before - stream->avail_out;
    if (rc != COMP_OK) throw Error("ISA-L deflate failed (code " + std::to_string(rc) + ")");
    if (stream->internal_state.state == ZSTATE_END) break;
    if (stream->avail_out == 0) out.resize(out.size() + size / 8 + 1024);
  }
  out.resize(start + written);
}

}  // namespace detail

struct GzipReader::State {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t pos = 0;
  std::string file;
  bool in_member = false;
  bool done = false;
  inflate_state inflate;
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
      // Trailing zero padding after the last member is tolerated, as gzip does.
      if (s.pos >= s.size ||
          std::all_of(s.data + s.pos, s.data + s.size, [](auto b) { return b == 0; })) {
        s.done = true;
        break;
      }
      isal_inflate_init(&s.inflate);
      s.inflate.crc_flag = ISAL_GZIP;
      s.inflate.next_in = const_cast<std::uint8_t*>(s.data + s.pos);
      s.inflate.avail_in =
          static_cast<std::uint32_t>(std::min<std::size_t>(s.size - s.pos, UINT32_MAX));
      s.in_member = true;
    }
    s.inflate.next_out = dst + produced;
    s.inflate.avail_out =
        static_cast<std::uint32_t>(std::min<std::size_t>(n - produced, UINT32_MAX));
    const std::uint32_t before_out = s.inflate.avail_out, before_in = s.inflate.avail_in;
    int rc = isal_inflate(&s.inflate);
    produced += before_out - s.inflate.avail_out;
    s.pos += before_in - s.inflate.avail_in;
    if (rc < 0) {
      throw InputError(
          s.file, "",
          rc == ISAL_INCORRECT_CHECKSUM ? "gzip checksum mismatch" : "corrupt gzip stream");
    }
    if (s.inflate.block_state == ISAL_BLOCK_FINISH) {
      s.in_member = false;
    } else if (s.inflate.avail_in == 0 && s.inflate.avail_out > 0) {
      if (s.pos >= s.size) throw InputError(s.file, "", "truncated gzip stream");
      s.inflate.avail_in =
          static_cast<std::uint32_t>(std::min<std::size_t>(s.size - s.pos, UINT32_MAX));
    }
  }
  return produced;
}

}  // namespace tandem
