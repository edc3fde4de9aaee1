// SPDX-License-Identifier: Apache-2.0
// NpzWriter lays the whole archive out at construction: every member is stored, so each local
// header can carry its final sizes and only the CRC-32 is left to patch at commit(). Each
// write() records the CRC of its range; adjacent ranges merge at once (crc32_combine), so the
// bookkeeping stays small however many matrices arrive, and commit() checks full coverage.
#include <unistd.h>
#include <zlib.h>
#ifdef TANDEM_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include <algorithm>
#include <cerrno>
#include <deque>
#include <iterator>
#include <map>
#include <mutex>
#include <utility>

#include "core/atomic_file.h"
#include "core/error.h"
#include "io/npz.h"
#include "io/zip_format.h"

namespace tandem::io {

static_assert(sizeof(z_off_t) == 8, "crc32_combine needs 64-bit lengths for members over 2 GiB");

namespace {

struct Range {
  uint64_t end;
  uint32_t crc;
};

struct Member {
  ZipEntry entry;
  std::string npy_header;
  uint64_t data_start = 0;  // absolute offset of the array data
  uint64_t data_bytes = 0;
  std::map<uint64_t, Range> done;  // written ranges by start offset, adjacent ones merged
};

// Every byte of every output is hashed once; zlib's table-driven CRC-32 was a seventh of the
// pipeline's CPU time for full U and Vh, libdeflate's (carry-less multiply) is several times
// faster. Both compute the same CRC-32.
uint32_t crc_of(const void* data, uint64_t bytes) {
#ifdef TANDEM_HAVE_LIBDEFLATE
  return libdeflate_crc32(0, data, static_cast<std::size_t>(bytes));
#else
  uLong crc = crc32(0, nullptr, 0);
  const auto* p = static_cast<const Bytef*>(data);
  for (uint64_t step; bytes > 0; p += step, bytes -= step) {
    step = std::min<uint64_t>(bytes, uint64_t{1} << 30);
    crc = crc32(crc, p, static_cast<uInt>(step));
  }
  return static_cast<uint32_t>(crc);
#endif
}

// Adds [start, start+len) to `done`, merging with neighbours; false when it overlaps one.
bool record_range(std::map<uint64_t, Range>& done, uint64_t start, uint64_t len, uint32_t crc) {
  auto next = done.lower_bound(start);
  if (next != done.end() && next->first < start + len) return false;
  if (next != done.begin()) {
    auto prev = std::prev(next);
    if (prev->second.end > start) return false;
    if (prev->second.end == start) {
      prev->second.crc =
          static_cast<uint32_t>(crc32_combine(prev->second.crc, crc, static_cast<z_off_t>(len)));
      prev->second.end += len;
      if (next != done.end() && next->first == prev->second.end) {
        prev->second.crc = static_cast<uint32_t>(
            crc32_combine(prev->second.crc, next->second.crc,
                          static_cast<z_off_t>(next->second.end - next->first)));
        prev->second.end = next->second.end;
        done.erase(next);
      }
      return true;
    }
  }
  Range r{start + len, crc};
  if (next != done.end() && next->first == r.end) {
    r.crc = static_cast<uint32_t>(
        crc32_combine(crc, next->second.crc, static_cast<z_off_t>(next->second.end - next->first)));
    r.end = next->second.end;
    done.erase(next);
  }
  done.emplace(start, r);
  return true;
}

uint64_t spec_bytes(const NpzArraySpec& spec) {
  uint64_t bytes = dtype_size(spec.dtype);
  for (int64_t d : spec.shape) {
    TANDEM_EXPECTS(d >= 0, "negative dimension in array '" + spec.name + "'");
    bytes *= static_cast<uint64_t>(d);
  }
  return bytes;
}

}  // namespace

struct NpzWriter::Impl {
  explicit Impl(const std::string& path) : file(path) {}

  // Lays out one member at the current end and writes its local header and .npy header.
  Member& place(const NpzArraySpec& spec) {
    Member m;
    m.npy_header = make_npy_header(spec.dtype, spec.shape);
    m.data_bytes = spec_bytes(spec);
    m.entry.name = spec.name + ".npy";
    m.entry.method = kZipStored;
    m.entry.usize = m.entry.csize = m.npy_header.size() + m.data_bytes;
    m.entry.local_offset = end;
    const std::string local = zip_local_header(m.entry) + m.npy_header;
    file.pwrite_all(local.data(), local.size(), end);
    m.data_start = end + local.size();
    end = m.data_start + m.data_bytes;
    members.push_back(std::move(m));
    return members.back();
  }

  // The member's CRC from its .npy header and its one merged data range; throws on a gap.
  uint32_t finished_crc(const Member& m) const {
    uint32_t crc = crc_of(m.npy_header.data(), m.npy_header.size());
    if (m.data_bytes == 0) return crc;
    const auto first = m.done.begin();
    if (first == m.done.end() || first->first != 0 || first->second.end != m.data_bytes) {
      const uint64_t gap = (first == m.done.end() || first->first != 0) ? 0 : first->second.end;
      throw Error("npz output " + file.final_path() + ": array '" +
                  m.entry.name.substr(0, m.entry.name.size() - 4) + "': bytes from " +
                  std::to_string(gap) + " were never written");
    }
    return static_cast<uint32_t>(
        crc32_combine(crc, first->second.crc, static_cast<z_off_t>(m.data_bytes)));
  }

  AtomicFile file;
  std::deque<Member> members;  // a deque: add_array() never moves a Member a write() is using
  uint64_t end = 0;
  std::mutex mu;
  bool committed = false;
};

NpzWriter::NpzWriter(const std::string& final_path, std::vector<NpzArraySpec> arrays)
    : impl_(std::make_unique<Impl>(final_path)) {
  for (const auto& spec : arrays) impl_->place(spec);
  // Size the file now (sparse where data is still to come) so ranges may land in any order.
  if (::ftruncate(impl_->file.fd(), static_cast<off_t>(impl_->end)) != 0)
    throw_system_error("cannot size output", final_path, errno);
}

NpzWriter::~NpzWriter() = default;

void NpzWriter::write(std::size_t array, uint64_t offset, const void* data, std::size_t bytes) {
  Member* m = nullptr;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    TANDEM_EXPECTS(!impl_->committed, "NpzWriter::write after commit");
    TANDEM_EXPECTS(array < impl_->members.size(), "NpzWriter::write: no such array");
    m = &impl_->members[array];
  }
  TANDEM_EXPECTS(offset <= m->data_bytes && bytes <= m->data_bytes - offset,
                 "NpzWriter::write: range past the end of array '" + m->entry.name + "'");
  if (bytes == 0) return;
  // Hash and write outside the lock so that threads writing different ranges run in parallel.
  const uint32_t crc = crc_of(data, bytes);
  impl_->file.pwrite_all(data, bytes, m->data_start + offset);
  std::lock_guard<std::mutex> lock(impl_->mu);
  TANDEM_EXPECTS(record_range(m->done, offset, bytes, crc),
                 "NpzWriter::write: overlapping ranges in array '" + m->entry.name + "'");
}

void NpzWriter::add_array(const NpzArraySpec& spec, const void* data) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  TANDEM_EXPECTS(!impl_->committed, "NpzWriter::add_array after commit");
  Member& m = impl_->place(spec);
  if (m.data_bytes > 0) {
    impl_->file.pwrite_all(data, m.data_bytes, m.data_start);
    record_range(m.done, 0, m.data_bytes, crc_of(data, m.data_bytes));
  }
}

void NpzWriter::commit(const std::string& other_path) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  TANDEM_EXPECTS(!impl_->committed, "NpzWriter::commit twice");
  std::vector<ZipEntry> entries;
  for (Member& m : impl_->members) {
    m.entry.crc = impl_->finished_crc(m);
    const char crc[4] = {static_cast<char>(m.entry.crc), static_cast<char>(m.entry.crc >> 8),
                         static_cast<char>(m.entry.crc >> 16),
                         static_cast<char>(m.entry.crc >> 24)};
    impl_->file.pwrite_all(crc, 4, m.entry.local_offset + kLocalHeaderCrcOffset);
    entries.push_back(m.entry);
  }
  const std::string tail = zip_directory(entries, impl_->end);
  impl_->file.pwrite_all(tail.data(), tail.size(), impl_->end);
  impl_->file.commit(other_path);
  impl_->committed = true;
}

}  // namespace tandem::io
