// SPDX-License-Identifier: Apache-2.0
#include "smooth/nifti_writer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "core/atomic_file.h"
#include "core/error.h"
#include "smooth/gzip_codec.h"

namespace tandem {

namespace {

template <typename T>
void encode(const float* in, std::size_t n, std::uint8_t* out) {
  for (std::size_t i = 0; i < n; ++i) {
    T v;
    if constexpr (std::is_integral_v<T>) {
      // Round half to even (numpy's rint), then clip into the type's range.
      double r = std::nearbyint(static_cast<double>(in[i]));
      double lo = static_cast<double>(std::numeric_limits<T>::lowest());
      double hi = static_cast<double>(std::numeric_limits<T>::max());
      v = r <= lo   ? std::numeric_limits<T>::lowest()
          : r >= hi ? std::numeric_limits<T>::max()
                    : static_cast<T>(r);
    } else {
      v = static_cast<T>(in[i]);
    }
    std::memcpy(out + i * sizeof(T), &v, sizeof(T));
  }
}

}  // namespace

bool gzip_output_name(const std::string& path) {
  const std::size_t n = path.size();
  return n >= 3 && path[n - 3] == '.' &&
         std::tolower(static_cast<unsigned char>(path[n - 2])) == 'g' &&
         std::tolower(static_cast<unsigned char>(path[n - 1])) == 'z';
}

int nifti_bytes_per_voxel(int datatype) {
  int nbyper = 0, swapsize = 0;
  nifti_datatype_sizes(datatype, &nbyper, &swapsize);
  return nbyper;
}

void encode_voxels(int datatype, const float* in, std::size_t n, std::uint8_t* out) {
  switch (datatype) {
    case NIFTI_TYPE_UINT8:
      encode<std::uint8_t>(in, n, out);
      break;
    case NIFTI_TYPE_INT8:
      encode<std::int8_t>(in, n, out);
      break;
    case NIFTI_TYPE_INT16:
      encode<std::int16_t>(in, n, out);
      break;
    case NIFTI_TYPE_UINT16:
      encode<std::uint16_t>(in, n, out);
      break;
    case NIFTI_TYPE_INT32:
      encode<std::int32_t>(in, n, out);
      break;
    case NIFTI_TYPE_UINT32:
      encode<std::uint32_t>(in, n, out);
      break;
    case NIFTI_TYPE_INT64:
      encode<std::int64_t>(in, n, out);
      break;
    case NIFTI_TYPE_UINT64:
      encode<std::uint64_t>(in, n, out);
      break;
    case NIFTI_TYPE_FLOAT32:
      std::memcpy(out, in, n * sizeof(float));
      break;
    case NIFTI_TYPE_FLOAT64:
      encode<double>(in, n, out);
      break;
    default:
      throw Error("cannot write NIfTI datatype " + std::to_string(datatype));
  }
}

namespace {

// The fields tandem changes; everything else is the input's header as stored.
struct HeaderPatch {
  int datatype;
  double cal_min, cal_max;
  std::string descrip;
  std::size_t vox_offset;
};

template <typename Header>
void patch_header(Header& h, const HeaderPatch& p) {
  int nbyper = 0, swapsize = 0;
  nifti_datatype_sizes(p.datatype, &nbyper, &swapsize);
  h.datatype = static_cast<decltype(h.datatype)>(p.datatype);
  h.bitpix = static_cast<decltype(h.bitpix)>(8 * nbyper);
  h.scl_slope = 0;
  h.scl_inter = 0;
  h.cal_min = static_cast<decltype(h.cal_min)>(p.cal_min);
  h.cal_max = static_cast<decltype(h.cal_max)>(p.cal_max);
  std::memset(h.descrip, 0, sizeof(h.descrip));
  std::strncpy(h.descrip, p.descrip.c_str(), sizeof(h.descrip) - 1);
  h.vox_offset = static_cast<decltype(h.vox_offset)>(p.vox_offset);
}

// Header, 4-byte extender and extensions: everything before vox_offset, in native byte order.
std::vector<std::uint8_t> header_bytes(const NiftiImage& like, HeaderPatch patch) {
  const nifti_image& nim = like.header();
  const std::size_t hdr_size = like.raw_header().size();
  std::size_t offset = hdr_size + 4;
  for (int i = 0; i < nim.num_ext; ++i) offset += static_cast<std::size_t>(nim.ext_list[i].esize);
  patch.vox_offset = offset;
  std::vector<std::uint8_t> out(offset, 0);
  if (like.nifti_version() == 2) {
    nifti_2_header h;
    std::memcpy(&h, like.raw_header().data(), sizeof(h));
    if (like.swapped()) nifti_swap_as_nifti2(&h);
    patch_header(h, patch);
    std::memcpy(out.data(), &h, sizeof(h));
  } else {
    nifti_1_header h;
    std::memcpy(&h, like.raw_header().data(), sizeof(h));
    if (like.swapped()) nifti_swap_as_nifti1(&h);
    patch_header(h, patch);
    h.glmax = 0;
    h.glmin = 0;
    std::memcpy(out.data(), &h, sizeof(h));
  }
  std::size_t pos = hdr_size;
  out[pos] = nim.num_ext > 0 ? 1 : 0;
  pos += 4;
  for (int i = 0; i < nim.num_ext; ++i) {
    const nifti1_extension& e = nim.ext_list[i];
    std::memcpy(out.data() + pos, &e.esize, 4);
    std::memcpy(out.data() + pos + 4, &e.ecode, 4);
    std::memcpy(out.data() + pos + 8, e.edata, static_cast<std::size_t>(e.esize - 8));
    pos += static_cast<std::size_t>(e.esize);
  }
  return out;
}

}  // namespace

std::vector<std::uint8_t> nifti_output_header(const NiftiImage& like, int datatype, double cal_min,
                                              double cal_max, const std::string& descrip) {
  return header_bytes(like, HeaderPatch{datatype, cal_min, cal_max, descrip, 0});
}

void write_nifti_like(const NiftiImage& like, const std::string& path, const float* data,
                      const NiftiWriteOptions& options) {
  std::size_t n = like.shape().voxels() * static_cast<std::size_t>(like.volumes());
  float lo = 0.0f, hi = 0.0f;
  if (n > 0) {
    auto [mn, mx] = std::minmax_element(data, data + n);
    lo = *mn;
    hi = *mx;
  }
  std::vector<std::uint8_t> head =
      nifti_output_header(like, options.datatype, lo, hi, options.descrip);

  std::vector<std::uint8_t> converted;
  const std::uint8_t* body = reinterpret_cast<const std::uint8_t*>(data);
  std::size_t body_size = n * sizeof(float);
  if (options.datatype != NIFTI_TYPE_FLOAT32) {
    converted.resize(n * static_cast<std::size_t>(nifti_bytes_per_voxel(options.datatype)));
    encode_voxels(options.datatype, data, n, converted.data());
    body = converted.data();
    body_size = converted.size();
  }
  AtomicFile out(path);
  if (gzip_output_name(path)) {
    // The header is its own small member, so the voxel data is compressed without a copy.
    std::vector<std::uint8_t> z =
        gzip_compress_parallel(head.data(), head.size(), options.compression_level, 1);
    std::vector<std::uint8_t> zb =
        gzip_compress_parallel(body, body_size, options.compression_level, options.threads);
    out.pwrite_all(z.data(), z.size(), 0);
    out.pwrite_all(zb.data(), zb.size(), z.size());
  } else {
    out.pwrite_all(head.data(), head.size(), 0);
    out.pwrite_all(body, body_size, head.size());
  }
  out.commit();
}

}  // namespace tandem
