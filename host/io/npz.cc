// SPDX-License-Identifier: Apache-2.0
#include "io/npz.h"

#include <zlib.h>

#include <algorithm>

#include "core/atomic_file.h"
#include "core/error.h"
#include "io/element_type.h"
#include "io/inflate_stack.h"
#include "io/npy_layout.h"
#include "io/zip_format.h"

namespace tandem::io {

namespace {

const std::string kSuffix = ".npy";

bool has_suffix(const std::string& name) {
  return name.size() > kSuffix.size() &&
         name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

std::string strip_suffix(const std::string& name) {
  return has_suffix(name) ? name.substr(0, name.size() - kSuffix.size()) : name;
}

// np.load's lookup: "name" means "name.npy" when that exists, else a member called "name".
const ZipEntry* find_member(const ZipArchive& zip, const std::string& member) {
  const ZipEntry* e = zip.find(member + kSuffix);
  return e ? e : zip.find(member);
}

NpyHeader member_header(const ZipArchive& zip, const ZipEntry& e, const std::string& where) {
  const uint64_t start = zip.data_offset(e, where);
  if (e.method == kZipStored) {
    const MappedFile& f = *zip.file();
    return f.guarded(where, "", [&] { return parse_npy_header(f.data() + start, e.usize, where); });
  }
  Inflater in(zip.file(), start, e.csize, where);
  return inflate_npy_header(in, where);
}

// Whether a member's declared data fits the member's size.
bool member_consistent(const ZipEntry& e, const NpyHeader& h) {
  uint64_t bytes = descr_itemsize(h.descr);
  for (int64_t d : h.shape) bytes *= static_cast<uint64_t>(d);
  return bytes == 0 || h.data_offset + bytes <= e.usize;
}

uint64_t array_bytes(const NpzArraySpec& spec) {
  uint64_t bytes = dtype_size(spec.dtype);
  for (int64_t d : spec.shape) bytes *= static_cast<uint64_t>(d);
  return bytes;
}

// Raw deflate (zip method 8) of `data`, as np.savez_compressed writes (zlib's default level).
std::string deflate_bytes(const std::string& data, const std::string& path) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK)
    throw Error("zlib deflateInit2 failed for " + path);
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw Error("zlib deflate failed for " + path);
  return out;
}

void write_deflated_npz(const std::string& path, const std::vector<NpzArraySpec>& specs,
                        const std::vector<const void*>& data) {
  AtomicFile out(path);
  std::vector<ZipEntry> entries;
  uint64_t end = 0;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    std::string npy = make_npy_header(specs[i].dtype, specs[i].shape);
    if (array_bytes(specs[i]) > 0)
      npy.append(static_cast<const char*>(data[i]), array_bytes(specs[i]));
    TANDEM_EXPECTS(npy.size() < (uint64_t{1} << 31), "write_npz(deflate) is for small arrays");
    ZipEntry e;
    e.name = specs[i].name + kSuffix;
    e.method = kZipDeflated;
    e.crc = static_cast<uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(npy.data()), static_cast<uInt>(npy.size())));
    e.usize = npy.size();
    const std::string packed = deflate_bytes(npy, path);
    e.csize = packed.size();
    e.local_offset = end;
    const std::string header = zip_local_header(e);
    out.pwrite_all(header.data(), header.size(), end);
    out.pwrite_all(packed.data(), packed.size(), end + header.size());
    end += header.size() + packed.size();
    entries.push_back(std::move(e));
  }
  const std::string tail = zip_directory(entries, end);
  out.pwrite_all(tail.data(), tail.size(), end);
  out.commit();
}

}  // namespace

std::vector<std::string> npz_members(const std::string& path) {
  ZipArchive zip(path);
  std::vector<std::string> names;
  for (const auto& e : zip.entries()) names.push_back(strip_suffix(e.name));
  return names;
}

std::unique_ptr<MatrixStack> open_npz_member(const std::string& path, const std::string& member) {
  ZipArchive zip(path);
  const std::string where = path + ":" + member;
  const ZipEntry* e = find_member(zip, member);
  if (!e) throw InputError(where, "", "no such member in the archive");
  const uint64_t start = zip.data_offset(*e, where);
  if (e->method == kZipDeflated)
    return make_inflated_stack(zip.file(), start, e->csize, e->usize, where);
  const MappedFile& f = *zip.file();
  const NpyHeader header =
      f.guarded(where, "", [&] { return parse_npy_header(f.data() + start, e->usize, where); });
  StackLayout layout = make_layout(header, where);
  check_data_size(layout, e->usize - header.data_offset, where);
  return make_mapped_stack(zip.file(), start + header.data_offset, std::move(layout), where);
}

void write_npz(const std::string& path, const std::vector<NpzArraySpec>& specs,
               const std::vector<const void*>& data, bool deflate) {
  TANDEM_EXPECTS(specs.size() == data.size(), "write_npz: one data pointer per array");
  if (deflate) return write_deflated_npz(path, specs, data);
  NpzWriter writer(path, specs);
  for (std::size_t i = 0; i < specs.size(); ++i) writer.write(i, 0, data[i], array_bytes(specs[i]));
  writer.commit();
}

bool npz_is_complete(const std::string& path, const std::vector<std::string>& names) {
  std::vector<NpzArraySpec> specs;
  for (const auto& name : names) specs.push_back({name, DType::kFloat64, {}});
  return npz_is_complete(path, specs, false);
}

bool npz_is_complete(const std::string& path, const std::vector<NpzArraySpec>& arrays,
                     bool check_layout) {
  try {
    ZipArchive zip(path);
    for (const auto& spec : arrays) {
      const ZipEntry* e = find_member(zip, spec.name);
      if (!e) return false;
      const NpyHeader h = member_header(zip, *e, path + ":" + spec.name);
      if (!member_consistent(*e, h)) return false;
      if (check_layout &&
          (h.shape != spec.shape || h.fortran_order || h.descr != dtype_descr(spec.dtype))) {
        return false;
      }
    }
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace tandem::io
