// SPDX-License-Identifier: Apache-2.0
#include "io/nifti_image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <type_traits>
#include <utility>

#include "core/atomic_file.h"
#include "core/error.h"
#include "smooth/gzip_codec.h"

namespace tandem {

namespace {

constexpr char kMagic1[4] = {'n', '+', '1', '\0'};
constexpr char kMagic1Pair[4] = {'n', 'i', '1', '\0'};
constexpr char kMagic2[8] = {'n', '+', '2', '\0', '\r', '\n', '\032', '\n'};

std::uint32_t bswap32(std::uint32_t v) { return __builtin_bswap32(v); }

std::vector<std::uint8_t> read_whole_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError(path, "", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InputError(path, "", "not a regular file");
  }
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      ::close(fd);
      throw InputError(path, "", std::string("read failed: ") + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return bytes;
}

bool supported_datatype(int dt) {
  switch (dt) {
    case NIFTI_TYPE_UINT8: case NIFTI_TYPE_INT8: case NIFTI_TYPE_INT16: case NIFTI_TYPE_UINT16:
    case NIFTI_TYPE_INT32: case NIFTI_TYPE_UINT32: case NIFTI_TYPE_INT64: case NIFTI_TYPE_UINT64:
    case NIFTI_TYPE_FLOAT32: case NIFTI_TYPE_FLOAT64:
      return true;
    default:
      return false;
  }
}

// nifti_clib prints diagnostics by default; the library must stay silent, cli/ reports.
void quiet_nifti_clib() {
  static std::once_flag once;
  std::call_once(once, [] { nifti_set_debug_level(0); });
}

nifti_image* parse_header(const std::vector<std::uint8_t>& b, const std::string& path) {
  if (b.size() < 4) throw InputError(path, "", "not a NIfTI file (too short for a header)");
  std::uint32_t sizeof_hdr;
  std::memcpy(&sizeof_hdr, b.data(), 4);
  if (sizeof_hdr == 348 || bswap32(sizeof_hdr) == 348) {
    if (b.size() < sizeof(nifti_1_header)) throw InputError(path, "", "truncated NIfTI-1 header");
    if (std::memcmp(b.data() + 344, kMagic1Pair, 4) == 0) {
      throw InputError(path, "", "two-file NIfTI (.hdr/.img) is not supported; use .nii");
    }
    if (std::memcmp(b.data() + 344, kMagic1, 4) != 0) {
      throw InputError(path, "", "not a NIfTI file (bad magic; ANALYZE 7.5 is not supported)");
    }
    nifti_1_header h;
    std::memcpy(&h, b.data(), sizeof(h));
    return nifti_convert_n1hdr2nim(h, path.c_str());
  }
  if (sizeof_hdr == 540 || bswap32(sizeof_hdr) == 540) {
    if (b.size() < sizeof(nifti_2_header)) throw InputError(path, "", "truncated NIfTI-2 header");
    if (std::memcmp(b.data() + 4, kMagic2, 8) != 0) {
      throw InputError(path, "", "not a NIfTI file (bad NIfTI-2 magic)");
    }
    nifti_2_header h;
    std::memcpy(&h, b.data(), sizeof(h));
    return nifti_convert_n2hdr2nim(h, path.c_str());
  }
  throw InputError(path, "", "not a NIfTI file (header size is neither 348 nor 540)");
}

// Extensions sit between the header's 4-byte extender and vox_offset; a malformed list is
// dropped rather than failing the image, as nifti_clib does.
void parse_extensions(nifti_image* nim, const std::vector<std::uint8_t>& b, std::size_t hdr_size,
                      std::size_t vox_offset, bool swap) {
  std::size_t pos = hdr_size;
  if (pos + 4 > vox_offset || b[pos] == 0) return;
  pos += 4;
  while (pos + 8 <= vox_offset) {
    std::int32_t esize, ecode;
    std::memcpy(&esize, b.data() + pos, 4);
    std::memcpy(&ecode, b.data() + pos + 4, 4);
    if (swap) {
      esize = static_cast<std::int32_t>(bswap32(static_cast<std::uint32_t>(esize)));
      ecode = static_cast<std::int32_t>(bswap32(static_cast<std::uint32_t>(ecode)));
    }
    if (esize < 16 || esize % 16 != 0 || pos + static_cast<std::size_t>(esize) > vox_offset) return;
    nifti_add_extension(nim, reinterpret_cast<const char*>(b.data() + pos + 8), esize - 8, ecode);
    pos += static_cast<std::size_t>(esize);
  }
}

template <typename T>
T load(const std::uint8_t* p, bool swap) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  if (swap) {
    std::uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    std::reverse(tmp, tmp + sizeof(T));
    std::memcpy(&v, tmp, sizeof(T));
  }
  return v;
}

// nibabel holds the slope and intercept as Python floats, so scaled data is computed in float64
// (raw·slope, then +inter) and rounded to float32 once.
enum class Scaling { kNone, kFloat64 };

template <typename T>
std::size_t decode(const std::uint8_t* src, std::size_t n, bool swap, Scaling scaling,
                   double slope, double inter, float* out) {
  std::size_t nonfinite = 0;
  for (std::size_t i = 0; i < n; ++i) {
    T raw = load<T>(src + i * sizeof(T), swap);
    float v;
    if (scaling == Scaling::kNone) {
      v = static_cast<float>(raw);
    } else {
      double d = static_cast<double>(raw);
      if (slope != 1.0) d = d * slope;
      if (inter != 0.0) d = d + inter;
      v = static_cast<float>(d);
    }
    if (!std::isfinite(v)) {
      v = 0.0f;
      ++nonfinite;
    }
    out[i] = v;
  }
  return nonfinite;
}

}  // namespace

bool has_gz_suffix(const std::string& path) {
  return path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
}

NiftiImage::NiftiImage(NiftiImage&& o) noexcept
    : path_(std::move(o.path_)),
      nim_(std::exchange(o.nim_, nullptr)),
      bytes_(std::move(o.bytes_)),
      data_offset_(o.data_offset_) {}

NiftiImage& NiftiImage::operator=(NiftiImage&& o) noexcept {
  if (this != &o) {
    if (nim_) nifti_image_free(nim_);
    path_ = std::move(o.path_);
    nim_ = std::exchange(o.nim_, nullptr);
    bytes_ = std::move(o.bytes_);
    data_offset_ = o.data_offset_;
  }
  return *this;
}

NiftiImage::~NiftiImage() {
  if (nim_) nifti_image_free(nim_);
}

NiftiImage NiftiImage::read(const std::string& path) {
  quiet_nifti_clib();
  NiftiImage img;
  img.path_ = path;
  img.bytes_ = read_whole_file(path);
  if (is_gzip(img.bytes_.data(), img.bytes_.size())) {
    img.bytes_ = gzip_decompress(img.bytes_.data(), img.bytes_.size(), path);
  }
  img.nim_ = parse_header(img.bytes_, path);
  std::uint32_t sizeof_hdr;
  std::memcpy(&sizeof_hdr, img.bytes_.data(), 4);
  img.version_ = (sizeof_hdr == 540 || bswap32(sizeof_hdr) == 540) ? 2 : 1;
  img.raw_header_.assign(img.bytes_.begin(), img.bytes_.begin() + (img.version_ == 2 ? 540 : 348));
  if (!img.nim_) throw InputError(path, "", "invalid NIfTI header (nifti_clib rejected it)");
  const nifti_image& h = *img.nim_;
  if (h.dim[0] < 3) {
    throw InputError(path, "", std::to_string(h.dim[0]) + "-D image; smoothing needs 3-D or 4-D");
  }
  if (h.dim[0] > 4) {
    throw InputError(path, "", std::to_string(h.dim[0]) + "-D image; smoothing needs 3-D or 4-D");
  }
  if (!supported_datatype(h.datatype)) {
    throw InputError(path, "", std::string("unsupported datatype ") +
                                   nifti_datatype_string(h.datatype));
  }
  std::size_t hdr_size = img.nifti_version() == 2 ? 540 : 348;
  if (h.iname_offset < static_cast<std::int64_t>(hdr_size)) {
    throw InputError(path, "", "invalid vox_offset " + std::to_string(h.iname_offset));
  }
  img.data_offset_ = static_cast<std::size_t>(h.iname_offset);
  std::size_t need = static_cast<std::size_t>(h.nvox) * static_cast<std::size_t>(h.nbyper);
  if (img.data_offset_ > img.bytes_.size() || img.bytes_.size() - img.data_offset_ < need) {
    std::size_t have = img.bytes_.size() > img.data_offset_ ? img.bytes_.size() - img.data_offset_ : 0;
    throw InputError(path, "", "truncated: " + std::to_string(have) + " bytes of voxel data, " +
                                   std::to_string(need) + " expected");
  }
  bool swap = h.byteorder != nifti_short_order();
  parse_extensions(img.nim_, img.bytes_, hdr_size, img.data_offset_, swap);
  if (std::isfinite(h.scl_slope) && h.scl_slope != 0.0 && !std::isfinite(h.scl_inter)) {
    throw InputError(path, "", "valid scl_slope but non-finite scl_inter");
  }
  return img;
}

VolumeShape NiftiImage::shape() const { return {nim_->nx, nim_->ny, nim_->nz}; }

std::int64_t NiftiImage::volumes() const { return nim_->dim[0] >= 4 ? nim_->nt : 1; }

bool NiftiImage::swapped() const { return nim_->byteorder != nifti_short_order(); }

std::array<double, 9> NiftiImage::affine3() const {
  std::array<double, 9> a{};
  const nifti_image& h = *nim_;
  if (h.sform_code > 0) {
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) a[r * 3 + c] = h.sto_xyz.m[r][c];
    return a;
  }
  if (h.qform_code > 0) {
    // nibabel's fillpositive + quat2mat, then R·diag(pixdim) with qfac on the third column.
    float b = static_cast<float>(h.quatern_b), c = static_cast<float>(h.quatern_c),
          d = static_cast<float>(h.quatern_d);
    float dot = b * b + c * c + d * d;
    double w2 = 1.0 - static_cast<double>(dot);
    double w = w2 < 0 ? 0.0 : std::sqrt(w2);
    double x = b, y = c, z = d;
    double nq = w * w + x * x + y * y + z * z;
    double s = 2.0 / nq;
    double X = x * s, Y = y * s, Z = z * s;
    double wX = w * X, wY = w * Y, wZ = w * Z, xX = x * X, xY = x * Y, xZ = x * Z;
    double yY = y * Y, yZ = y * Z, zZ = z * Z;
    double r[9] = {1.0 - (yY + zZ), xY - wZ, xZ + wY, xY + wZ, 1.0 - (xX + zZ),
                   yZ - wX,         xZ - wY, yZ + wX, 1.0 - (xX + yY)};
    double vox[3] = {static_cast<float>(h.pixdim[1]), static_cast<float>(h.pixdim[2]),
                     static_cast<float>(h.pixdim[3]) * static_cast<float>(h.qfac < 0 ? -1 : 1)};
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) a[i * 3 + j] = r[i * 3 + j] * vox[j];
    return a;
  }
  a[0] = -std::fabs(h.pixdim[1]);
  a[4] = std::fabs(h.pixdim[2]);
  a[8] = std::fabs(h.pixdim[3]);
  return a;
}

std::array<double, 3> NiftiImage::voxel_sizes() const {
  auto a = affine3();
  std::array<double, 3> v{};
  for (int c = 0; c < 3; ++c) {
    v[c] = std::sqrt((a[c] * a[c] + a[3 + c] * a[3 + c]) + a[6 + c] * a[6 + c]);
  }
  return v;
}

std::size_t NiftiImage::read_volume(std::int64_t t, float* out) const {
  const nifti_image& h = *nim_;
  std::size_t n = shape().voxels();
  const std::uint8_t* src =
      bytes_.data() + data_offset_ + static_cast<std::size_t>(t) * n * static_cast<std::size_t>(h.nbyper);
  bool swap = h.byteorder != nifti_short_order();
  double slope = h.scl_slope, inter = h.scl_inter;
  Scaling scaling = Scaling::kNone;
  if (std::isfinite(slope) && slope != 0.0 && !(slope == 1.0 && inter == 0.0)) {
    scaling = Scaling::kFloat64;
  }
  switch (h.datatype) {
    case NIFTI_TYPE_UINT8: return decode<std::uint8_t>(src, n, swap, scaling, slope, inter, out);
    case NIFTI_TYPE_INT8: return decode<std::int8_t>(src, n, swap, scaling, slope, inter, out);
    case NIFTI_TYPE_INT16: return decode<std::int16_t>(src, n, swap, scaling, slope, inter, out);
    case NIFTI_TYPE_UINT16: return decode<std::uint16_t>(src, n, swap, scaling, slope, inter, out);
    case NIFTI_TYPE_INT32: return decode<std::int32_t>(src, n, swap, scaling, slope, inter, out);
    case NIFTI_TYPE_UINT32: return decode<std::uint32_t>(src, n, swap, scaling, slope, inter, out);
    case NIFTI_TYPE_INT64: return decode<std::int64_t>(src, n, swap, scaling, slope, inter, out);
    case NIFTI_TYPE_UINT64: return decode<std::uint64_t>(src, n, swap, scaling, slope, inter, out);
    case NIFTI_TYPE_FLOAT32: return decode<float>(src, n, swap, scaling, slope, inter, out);
    case NIFTI_TYPE_FLOAT64: return decode<double>(src, n, swap, scaling, slope, inter, out);
    default: throw InputError(path_, "", "unsupported datatype");
  }
}

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
      v = r <= lo ? std::numeric_limits<T>::lowest()
                  : r >= hi ? std::numeric_limits<T>::max() : static_cast<T>(r);
    } else {
      v = static_cast<T>(in[i]);
    }
    std::memcpy(out + i * sizeof(T), &v, sizeof(T));
  }
}

std::vector<std::uint8_t> encode_as(int datatype, const float* in, std::size_t n) {
  int nbyper = 0, swapsize = 0;
  nifti_datatype_sizes(datatype, &nbyper, &swapsize);
  std::vector<std::uint8_t> out(n * static_cast<std::size_t>(nbyper));
  switch (datatype) {
    case NIFTI_TYPE_UINT8: encode<std::uint8_t>(in, n, out.data()); break;
    case NIFTI_TYPE_INT8: encode<std::int8_t>(in, n, out.data()); break;
    case NIFTI_TYPE_INT16: encode<std::int16_t>(in, n, out.data()); break;
    case NIFTI_TYPE_UINT16: encode<std::uint16_t>(in, n, out.data()); break;
    case NIFTI_TYPE_INT32: encode<std::int32_t>(in, n, out.data()); break;
    case NIFTI_TYPE_UINT32: encode<std::uint32_t>(in, n, out.data()); break;
    case NIFTI_TYPE_INT64: encode<std::int64_t>(in, n, out.data()); break;
    case NIFTI_TYPE_UINT64: encode<std::uint64_t>(in, n, out.data()); break;
    case NIFTI_TYPE_FLOAT64: encode<double>(in, n, out.data()); break;
    default: throw Error("cannot write NIfTI datatype " + std::to_string(datatype));
  }
  return out;
}

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
      header_bytes(like, HeaderPatch{options.datatype, lo, hi, options.descrip, 0});

  std::vector<std::uint8_t> converted;
  const std::uint8_t* body = reinterpret_cast<const std::uint8_t*>(data);
  std::size_t body_size = n * sizeof(float);
  if (options.datatype != NIFTI_TYPE_FLOAT32) {
    converted = encode_as(options.datatype, data, n);
    body = converted.data();
    body_size = converted.size();
  }
  AtomicFile out(path);
  if (has_gz_suffix(path)) {
    // The header is its own small member, so the voxel data is compressed without a copy.
    std::vector<std::uint8_t> z = gzip_compress_parallel(head.data(), head.size(),
                                                         options.compression_level, 1);
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
