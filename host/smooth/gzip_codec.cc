// SPDX-License-Identifier: Apache-2.0
#include "smooth/gzip_codec.h"

#include <zlib.h>

#include <algorithm>

#include "core/workers.h"

namespace tandem {

bool is_gzip(const std::uint8_t* data, std::size_t size) {
  return size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

std::vector<std::uint8_t> gzip_decompress(const std::uint8_t* data, std::size_t size,
                                          const std::string& file) {
  GzipReader reader(data, size, file);
  std::vector<std::uint8_t> out(std::max<std::size_t>(size * 2, 1 << 16));
  std::size_t produced = 0;
  for (;;) {
    std::size_t want = out.size() - produced;
    std::size_t got = reader.read(out.data() + produced, want);
    produced += got;
    if (got < want) break;
    out.resize(out.size() * 2);
  }
  out.resize(produced);
  return out;
}

namespace {
constexpr std::size_t kStoredBlock = 65535;  // deflate's largest stored block
}  // namespace

std::size_t gzip_stored_member_size(std::size_t size) {
  std::size_t blocks = std::max<std::size_t>(1, (size + kStoredBlock - 1) / kStoredBlock);
  return 10 + 5 * blocks + size + 8;
}

std::vector<std::uint8_t> gzip_stored_member(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> out = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};  // RFC 1952 header
  std::size_t pos = 0;
  do {
    std::size_t len = std::min(kStoredBlock, size - pos);
    bool last = pos + len == size;
    out.push_back(last ? 1 : 0);  // BFINAL, BTYPE = 00 (stored)
    out.push_back(static_cast<std::uint8_t>(len & 0xff));
    out.push_back(static_cast<std::uint8_t>(len >> 8));
    out.push_back(static_cast<std::uint8_t>(~len & 0xff));
    out.push_back(static_cast<std::uint8_t>((~len >> 8) & 0xff));
    out.insert(out.end(), data + pos, data + pos + len);
    pos += len;
  } while (pos < size);
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::size_t done = 0; done < size;) {
    uInt len = static_cast<uInt>(std::min<std::size_t>(size - done, 1u << 30));
    crc = crc32(crc, data + done, len);
    done += len;
  }
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>((crc >> (8 * i)) & 0xff));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>((size >> (8 * i)) & 0xff));
  return out;
}

std::vector<std::uint8_t> gzip_compress_parallel(const std::uint8_t* data, std::size_t size,
                                                 int level, int threads, std::size_t member_bytes) {
  member_bytes = std::max<std::size_t>(member_bytes, 64u << 10);
  std::size_t members = std::max<std::size_t>(1, (size + member_bytes - 1) / member_bytes);
  std::vector<std::vector<std::uint8_t>> parts(members);
  const std::size_t workers = std::clamp<std::size_t>(threads, 1, members);
  run_workers(static_cast<int>(workers), [&](int w) {
    // Strided assignment: members are equal-sized, so each worker gets the same share.
    for (std::size_t m = static_cast<std::size_t>(w); m < members; m += workers) {
      std::size_t begin = m * member_bytes;
      std::size_t len = std::min(member_bytes, size - std::min(size, begin));
      parts[m].reserve(len + len / 8 + 1024);
      detail::gzip_compress_member(data + std::min(size, begin), len, level, parts[m]);
    }
  });
  std::size_t total = 0;
  for (auto& p : parts) total += p.size();
  std::vector<std::uint8_t> out;
  out.reserve(total);
  for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace tandem
