// SPDX-License-Identifier: Apache-2.0
#include <cstring>

#include "core/error.h"
#include "io/zip_format.h"

namespace tandem::io {

namespace {

constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50;
constexpr uint32_t kLocator64Sig = 0x07064b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint64_t kEndSize = 22, kLocatorSize = 20, kEnd64Size = 56, kCentralSize = 46;
constexpr uint64_t kLocalSize = 30, kMaxComment = 0xffff;

template <typename T>
T get(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);  // zip is little-endian, like the host
  return v;
}

// The end of central directory record: the last signature whose comment length reaches exactly
// to the end of the file (a comment could itself contain the signature bytes).
uint64_t find_end_record(const MappedFile& f, const std::string& path) {
  const uint8_t* d = f.data();
  if (f.size() >= kEndSize) {
    const uint64_t lowest =
        f.size() > kEndSize + kMaxComment ? f.size() - kEndSize - kMaxComment : 0;
    for (uint64_t pos = f.size() - kEndSize + 1; pos-- > lowest;) {
      if (get<uint32_t>(d + pos) == kEndSig &&
          pos + kEndSize + get<uint16_t>(d + pos + 20) == f.size())
        return pos;
    }
  }
  throw InputError(path, "", "not a zip archive (no end of central directory record)");
}

// Replaces the 32-bit sizes/offset that are 0xFFFFFFFF by the values of the zip64 extra field.
void apply_zip64_extra(const uint8_t* extra, uint64_t len, ZipEntry& e, bool offset_big, bool* ok) {
  for (uint64_t pos = 0; pos + 4 <= len;) {
    const uint16_t id = get<uint16_t>(extra + pos);
    const uint16_t size = get<uint16_t>(extra + pos + 2);
    if (pos + 4 + size > len) break;
    if (id == 1) {
      const uint8_t* p = extra + pos + 4;
      const uint8_t* end = p + size;
      for (uint64_t* field : {&e.usize, &e.csize, &e.local_offset}) {
        const bool big = field == &e.local_offset ? offset_big : *field == 0xffffffffu;
        if (!big) continue;
        if (p + 8 > end) return void(*ok = false);
        *field = get<uint64_t>(p);
        p += 8;
      }
      return;
    }
    pos += 4 + size;
  }
}

}  // namespace

ZipArchive::ZipArchive(const std::string& path) : path_(path), file_(MappedFile::open(path)) {
  file_->guarded(path, "", [&] { parse_end_records(); });
}

void ZipArchive::parse_end_records() {
  const std::string& path = path_;
  const uint8_t* d = file_->data();
  const uint64_t end = find_end_record(*file_, path);
  uint64_t count = get<uint16_t>(d + end + 10);
  uint64_t cd_size = get<uint32_t>(d + end + 12);
  uint64_t cd_offset = get<uint32_t>(d + end + 16);
  uint64_t cd_limit = end;
  if (end >= kLocatorSize && get<uint32_t>(d + end - kLocatorSize) == kLocator64Sig) {
    const uint64_t rec = get<uint64_t>(d + end - kLocatorSize + 8);
    if (rec > end - kLocatorSize || end - kLocatorSize - rec < kEnd64Size ||
        get<uint32_t>(d + rec) != kEnd64Sig)
      throw InputError(path, "", "corrupt zip: bad zip64 end of central directory record");
    count = get<uint64_t>(d + rec + 32);
    cd_size = get<uint64_t>(d + rec + 40);
    cd_offset = get<uint64_t>(d + rec + 48);
    cd_limit = rec;
  }
  if (cd_offset > cd_limit || cd_size > cd_limit - cd_offset)
    throw InputError(path, "", "corrupt zip: central directory lies outside the file");
  parse_directory(cd_offset, cd_size, count);
}

void ZipArchive::parse_directory(uint64_t cd_offset, uint64_t cd_size, uint64_t count) {
  const uint8_t* d = file_->data();
  const uint64_t cd_end = cd_offset + cd_size;
  uint64_t pos = cd_offset;
  for (uint64_t i = 0; i < count; ++i) {
    const std::string bad = "corrupt zip: central directory entry " + std::to_string(i);
    if (pos + kCentralSize > cd_end || get<uint32_t>(d + pos) != kCentralSig)
      throw InputError(path_, "", bad);
    const uint8_t* h = d + pos;
    const uint64_t name_len = get<uint16_t>(h + 28), extra_len = get<uint16_t>(h + 30);
    const uint64_t total = kCentralSize + name_len + extra_len + get<uint16_t>(h + 32);
    if (pos + total > cd_end) throw InputError(path_, "", bad + " runs past the directory");
    ZipEntry e;
    e.flags = get<uint16_t>(h + 8);
    e.method = get<uint16_t>(h + 10);
    e.crc = get<uint32_t>(h + 16);
    e.csize = get<uint32_t>(h + 20);
    e.usize = get<uint32_t>(h + 24);
    e.local_offset = get<uint32_t>(h + 42);
    e.name.assign(reinterpret_cast<const char*>(h + kCentralSize), name_len);
    bool ok = true;
    apply_zip64_extra(h + kCentralSize + name_len, extra_len, e, e.local_offset == 0xffffffffu,
                      &ok);
    if (!ok) throw InputError(path_, "", bad + ": short zip64 extra field");
    entries_.push_back(std::move(e));
    pos += total;
  }
}

const ZipEntry* ZipArchive::find(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

uint64_t ZipArchive::data_offset(const ZipEntry& e, const std::string& where) const {
  return file_->guarded(where, "", [&] { return check_local_header(e, where); });
}

uint64_t ZipArchive::check_local_header(const ZipEntry& e, const std::string& where) const {
  const uint8_t* d = file_->data();
  const uint64_t size = file_->size();
  if (e.flags & 1) throw InputError(where, "", "encrypted zip member: unsupported");
  if (e.method != kZipStored && e.method != kZipDeflated)
    throw InputError(where, "", "unsupported zip compression method " + std::to_string(e.method));
  if (e.method == kZipStored && e.csize != e.usize)
    throw InputError(where, "", "corrupt zip: stored member with different sizes");
  if (e.local_offset > size || size - e.local_offset < kLocalSize ||
      get<uint32_t>(d + e.local_offset) != kLocalSig)
    throw InputError(where, "", "corrupt zip: bad local file header");
  const uint8_t* h = d + e.local_offset;
  const uint64_t name_len = get<uint16_t>(h + 26), extra_len = get<uint16_t>(h + 28);
  const uint64_t start = e.local_offset + kLocalSize + name_len + extra_len;
  if (start > size || name_len != e.name.size() ||
      std::memcmp(h + kLocalSize, e.name.data(), name_len) != 0)
    throw InputError(where, "", "corrupt zip: local header does not match the directory");
  if (e.csize > size - start)
    throw InputError(where, "",
                     "truncated data: member needs " + std::to_string(e.csize) +
                         " bytes, the archive has " + std::to_string(size - start));
  return start;
}

}  // namespace tandem::io
