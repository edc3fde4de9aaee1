// SPDX-License-Identifier: Apache-2.0
// Zip records as tandem writes them: fixed timestamp (1980-01-01, so equal inputs give equal
// bytes), Unix regular files 0644, zip64 only where a value reaches the threshold.
#include <algorithm>

#include "io/zip_format.h"

namespace tandem::io {

namespace {

constexpr uint16_t kDosTime = 0;
constexpr uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;
constexpr uint16_t kVersion = 20, kVersion64 = 45;
constexpr uint16_t kMadeByUnix = 3 << 8;
constexpr uint32_t kUnixFile0644 = 0100644u << 16;

void put16(std::string& s, uint64_t v) {
  for (int i = 0; i < 2; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put32(std::string& s, uint64_t v) {
  for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}

bool big(uint64_t v) { return v >= detail::zip64_threshold(); }

std::string central_entry(const ZipEntry& e) {
  std::string extra;
  for (uint64_t v : {e.usize, e.csize, e.local_offset})
    if (big(v)) put64(extra, v);
  if (!extra.empty()) extra = std::string{1, 0} + static_cast<char>(extra.size()) + '\0' + extra;
  std::string s;
  put32(s, 0x02014b50);
  const uint16_t version = extra.empty() ? kVersion : kVersion64;
  put16(s, kMadeByUnix | version);
  put16(s, version);
  put16(s, e.flags);
  put16(s, e.method);
  put16(s, kDosTime);
  put16(s, kDosDate);
  put32(s, e.crc);
  put32(s, big(e.csize) ? 0xffffffffu : e.csize);
  put32(s, big(e.usize) ? 0xffffffffu : e.usize);
  put16(s, e.name.size());
  put16(s, extra.size());
  put16(s, 0);  // comment
  put16(s, 0);  // disk
  put16(s, 0);  // internal attributes
  put32(s, kUnixFile0644);
  put32(s, big(e.local_offset) ? 0xffffffffu : e.local_offset);
  return s + e.name + extra;
}

}  // namespace

uint64_t& detail::zip64_threshold() {
  static uint64_t threshold = 0xffffffffu;
  return threshold;
}

std::string zip_local_header(const ZipEntry& e) {
  const bool z64 = big(e.usize) || big(e.csize);
  std::string s;
  put32(s, 0x04034b50);
  put16(s, z64 ? kVersion64 : kVersion);
  put16(s, e.flags);
  put16(s, e.method);
  put16(s, kDosTime);
  put16(s, kDosDate);
  put32(s, e.crc);
  put32(s, z64 ? 0xffffffffu : e.csize);
  put32(s, z64 ? 0xffffffffu : e.usize);
  put16(s, e.name.size());
  put16(s, z64 ? 20 : 0);
  s += e.name;
  if (z64) {  // the local zip64 extra always carries both sizes
    put16(s, 1);
    put16(s, 16);
    put64(s, e.usize);
    put64(s, e.csize);
  }
  return s;
}

std::string zip_directory(const std::vector<ZipEntry>& entries, uint64_t cd_offset) {
  std::string s;
  for (const auto& e : entries) s += central_entry(e);
  const uint64_t cd_size = s.size(), count = entries.size();
  const bool z64 = count >= std::min<uint64_t>(0xffff, detail::zip64_threshold()) || big(cd_size) ||
                   big(cd_offset);
  if (z64) {
    // zip64 end record, then its locator, right before the classic end record (where readers
    // such as Python's zipfile look for them).
    const uint64_t record = cd_offset + cd_size;
    put32(s, 0x06064b50);
    put64(s, 44);
    put16(s, kMadeByUnix | kVersion64);
    put16(s, kVersion64);
    put32(s, 0);
    put32(s, 0);
    put64(s, count);
    put64(s, count);
    put64(s, cd_size);
    put64(s, cd_offset);
    put32(s, 0x07064b50);
    put32(s, 0);
    put64(s, record);
    put32(s, 1);
  }
  put32(s, 0x06054b50);
  put16(s, 0);
  put16(s, 0);
  put16(s, z64 ? 0xffff : count);
  put16(s, z64 ? 0xffff : count);
  put32(s, z64 ? 0xffffffffu : cd_size);
  put32(s, z64 ? 0xffffffffu : cd_offset);
  put16(s, 0);
  return s;
}

}  // namespace tandem::io
