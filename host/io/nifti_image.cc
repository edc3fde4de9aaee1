// SPDX-License-Identifier: Apache-2.0
#include "io/nifti_image.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "core/error.h"
#include "io/mapped_read_guard.h"
#include "io/nifti_decode.h"
#include "smooth/gzip_codec.h"

namespace tandem {

namespace {

constexpr char kMagic1[4] = {'n', '+', '1', '\0'};
constexpr char kMagic1Pair[4] = {'n', 'i', '1', '\0'};
constexpr char kMagic2[8] = {'n', '+', '2', '\0', '\r', '\n', '\032', '\n'};

std::uint32_t bswap32(std::uint32_t v) { return __builtin_bswap32(v); }

// The input file mapped read-only: no copy of a compressed series through a buffer. Every read of
// it runs under read_mapped(), so that another program truncating the file fails this image
// instead of killing the process.
class MappedInput {
 public:
  explicit MappedInput(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw InputError(path, "", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw InputError(path, "", "not a regular file");
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    if (size > 0) {
      void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      int err = errno;
      ::close(fd);
      if (p == MAP_FAILED)
        throw InputError(path, "", std::string("cannot map: ") + std::strerror(err));
      ::madvise(p, size, MADV_SEQUENTIAL);
      region_.data = static_cast<const std::uint8_t*>(p);
      region_.size = size;
    } else {
      ::close(fd);
    }
  }
  ~MappedInput() {
    if (data()) ::munmap(const_cast<std::uint8_t*>(data()), size());
  }
  MappedInput(const MappedInput&) = delete;
  MappedInput& operator=(const MappedInput&) = delete;
  const std::uint8_t* data() const { return region_.data; }
  std::size_t size() const { return region_.size; }
  // Runs `read`, which reads data(), throwing InputError(path, item, kFileShrank) if the file
  // turned out shorter than its mapping.
  template <typename Read>
  auto guarded(const std::string& path, const std::string& item, Read&& read) const {
    return io::read_mapped(region_, path, item, std::forward<Read>(read));
  }

 private:
  mutable io::MappedRegion region_;  // mutable: the SIGBUS handler marks it through const readers
};

bool supported_datatype(int dt) {
  switch (dt) {
    case NIFTI_TYPE_UINT8:
    case NIFTI_TYPE_INT8:
    case NIFTI_TYPE_INT16:
    case NIFTI_TYPE_UINT16:
    case NIFTI_TYPE_INT32:
    case NIFTI_TYPE_UINT32:
    case NIFTI_TYPE_INT64:
    case NIFTI_TYPE_UINT64:
    case NIFTI_TYPE_FLOAT32:
    case NIFTI_TYPE_FLOAT64:
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

// The fields nifti_clib's header conversion refuses (printing its own "** ERROR" line to
// stderr, whatever the debug level), checked first so the user gets one line naming the field.
template <typename Dim>
void check_dims_and_type(const std::uint8_t* h, std::size_t dim_at, std::size_t type_at,
                         bool swapped, const std::string& path) {
  auto read = [&](std::size_t at, auto zero) {
    decltype(zero) v;
    std::memcpy(&v, h + at, sizeof v);
    if (swapped) {
      auto* b = reinterpret_cast<std::uint8_t*>(&v);
      std::reverse(b, b + sizeof v);
    }
    return v;
  };
  const auto rank = static_cast<long long>(read(dim_at, Dim{}));
  if (rank < 1 || rank > 7) {
    throw InputError(
        path, "", "invalid NIfTI header: dim[0] is " + std::to_string(rank) + " (must be 1 to 7)");
  }
  const auto first = static_cast<long long>(read(dim_at + sizeof(Dim), Dim{}));
  if (first < 1) {
    throw InputError(path, "", "invalid NIfTI header: dim[1] is " + std::to_string(first));
  }
  const int type = read(type_at, std::int16_t{});
  if (!nifti_datatype_is_valid(type, 1)) {
    throw InputError(
        path, "",
        "invalid NIfTI header: datatype " + std::to_string(type) + " is not a NIfTI voxel type");
  }
}

nifti_image* parse_header(const std::uint8_t* data, std::size_t size, const std::string& path) {
  struct {
    const std::uint8_t* p;
    std::size_t n;
    const std::uint8_t* data() const { return p; }
    std::size_t size() const { return n; }
  } b{data, size};
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
    check_dims_and_type<std::int16_t>(b.data(), offsetof(nifti_1_header, dim),
                                      offsetof(nifti_1_header, datatype), sizeof_hdr != 348, path);
    nifti_1_header h;
    std::memcpy(&h, b.data(), sizeof(h));
    return nifti_convert_n1hdr2nim(h, path.c_str());
  }
  if (sizeof_hdr == 540 || bswap32(sizeof_hdr) == 540) {
    if (b.size() < sizeof(nifti_2_header)) throw InputError(path, "", "truncated NIfTI-2 header");
    if (std::memcmp(b.data() + 4, kMagic2, 8) != 0) {
      throw InputError(path, "", "not a NIfTI file (bad NIfTI-2 magic)");
    }
    check_dims_and_type<std::int64_t>(b.data(), offsetof(nifti_2_header, dim),
                                      offsetof(nifti_2_header, datatype), sizeof_hdr != 540, path);
    nifti_2_header h;
    std::memcpy(&h, b.data(), sizeof(h));
    return nifti_convert_n2hdr2nim(h, path.c_str());
  }
  throw InputError(path, "", "not a NIfTI file (header size is neither 348 nor 540)");
}

// Extensions sit between the header's 4-byte extender and vox_offset; a malformed list is
// dropped rather than failing the image, as nifti_clib does.
void parse_extensions(nifti_image* nim, const std::uint8_t* b, std::size_t hdr_size,
                      std::size_t vox_offset, bool swap) {
  std::size_t pos = hdr_size;
  if (pos + 4 > vox_offset || b[pos] == 0) return;
  pos += 4;
  while (pos + 8 <= vox_offset) {
    std::int32_t esize, ecode;
    std::memcpy(&esize, b + pos, 4);
    std::memcpy(&ecode, b + pos + 4, 4);
    if (swap) {
      esize = static_cast<std::int32_t>(bswap32(static_cast<std::uint32_t>(esize)));
      ecode = static_cast<std::int32_t>(bswap32(static_cast<std::uint32_t>(ecode)));
    }
    if (esize < 16 || esize % 16 != 0 || pos + static_cast<std::size_t>(esize) > vox_offset) return;
    nifti_add_extension(nim, reinterpret_cast<const char*>(b + pos + 8), esize - 8, ecode);
    pos += static_cast<std::size_t>(esize);
  }
}

}  // namespace

bool has_gz_suffix(const std::string& path) {
  return path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
}

// The image bytes (header through voxel data). For .nii.gz a background thread keeps inflating
// after the header is parsed; readers wait for the bytes they need, so decoding and smoothing the
// first volumes overlaps inflating the rest.
struct NiftiImage::Stream {
  std::unique_ptr<MappedInput> file;      // the file as stored
  std::unique_ptr<std::uint8_t[]> image;  // inflated bytes (gzip only)
  const std::uint8_t* bytes = nullptr;    // header through the end of the voxel data
  std::size_t size = 0;
  std::unique_ptr<GzipReader> reader;
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  std::size_t available = 0;  // guarded by mu
  std::exception_ptr error;   // guarded by mu
  std::atomic<bool> cancel{false};

  ~Stream() {
    cancel = true;
    if (thread.joinable()) thread.join();
  }
  // Blocks until `end` bytes are inflated; rethrows the inflater's error if they never will be.
  void wait_for(std::size_t end) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return available >= end || error; });
    if (available < end) std::rethrow_exception(error);
  }
  void inflate_rest(std::size_t from, const std::string& path, std::size_t data_offset) {
    constexpr std::size_t kChunk = 4u << 20;
    try {
      for (std::size_t pos = from; pos < size && !cancel;) {
        std::size_t want = std::min(kChunk, size - pos);
        std::size_t got =
            file->guarded(path, "", [&] { return reader->read(image.get() + pos, want); });
        pos += got;
        {
          std::lock_guard<std::mutex> lock(mu);
          available = pos;
        }
        cv.notify_all();
        if (got < want) {
          throw InputError(path, "",
                           "truncated: " + std::to_string(pos - std::min(pos, data_offset)) +
                               " bytes of voxel data, " + std::to_string(size - data_offset) +
                               " expected");
        }
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      error = std::current_exception();
    }
    cv.notify_all();
  }
};

NiftiImage::NiftiImage() = default;
NiftiImage::NiftiImage(NiftiImage&& o) noexcept
    : path_(std::move(o.path_)),
      nim_(std::exchange(o.nim_, nullptr)),
      stream_(std::move(o.stream_)),
      data_offset_(o.data_offset_),
      version_(o.version_),
      raw_header_(std::move(o.raw_header_)) {}

NiftiImage& NiftiImage::operator=(NiftiImage&& o) noexcept {
  if (this != &o) {
    stream_.reset();
    if (nim_) nifti_image_free(nim_);
    path_ = std::move(o.path_);
    nim_ = std::exchange(o.nim_, nullptr);
    stream_ = std::move(o.stream_);
    data_offset_ = o.data_offset_;
    version_ = o.version_;
    raw_header_ = std::move(o.raw_header_);
  }
  return *this;
}

NiftiImage::~NiftiImage() {
  stream_.reset();  // joins the inflater before the header it reads goes
  if (nim_) nifti_image_free(nim_);
}

void NiftiImage::validate() const {
  const nifti_image& h = *nim_;
  if (h.dim[0] < 3 || h.dim[0] > 4) {
    throw InputError(path_, "", std::to_string(h.dim[0]) + "-D image; smoothing needs 3-D or 4-D");
  }
  if (!supported_datatype(h.datatype)) {
    throw InputError(path_, "",
                     std::string("unsupported datatype ") + nifti_datatype_string(h.datatype));
  }
  if (h.iname_offset < static_cast<std::int64_t>(raw_header_.size())) {
    throw InputError(path_, "", "invalid vox_offset " + std::to_string(h.iname_offset));
  }
  if (std::isfinite(h.scl_slope) && h.scl_slope != 0.0 && !std::isfinite(h.scl_inter)) {
    throw InputError(path_, "", "valid scl_slope but non-finite scl_inter");
  }
}

NiftiImage NiftiImage::read(const std::string& path) {
  quiet_nifti_clib();
  NiftiImage img;
  img.path_ = path;
  img.stream_ = std::make_unique<Stream>();
  img.stream_->file = std::make_unique<MappedInput>(path);
  img.stream_->file->guarded(path, "", [&] { img.load(); });
  return img;
}

void NiftiImage::load() {
  const std::string& path = path_;
  NiftiImage& img = *this;
  Stream& st = *stream_;
  const MappedInput& file = *st.file;
  const bool gz = is_gzip(file.data(), file.size());
  // The header (and, below, the extensions) come first, synchronously.
  std::vector<std::uint8_t> head;
  if (gz) {
    st.reader = std::make_unique<GzipReader>(file.data(), file.size(), path);
    head.resize(540);
    head.resize(st.reader->read(head.data(), head.size()));
  } else {
    head.assign(file.data(), file.data() + std::min<std::size_t>(file.size(), 540));
  }
  img.nim_ = parse_header(head.data(), head.size(), path);
  if (!img.nim_) throw InputError(path, "", "invalid NIfTI header (nifti_clib rejected it)");
  std::uint32_t sizeof_hdr;
  std::memcpy(&sizeof_hdr, head.data(), 4);
  img.version_ = (sizeof_hdr == 540 || bswap32(sizeof_hdr) == 540) ? 2 : 1;
  img.raw_header_.assign(head.begin(), head.begin() + (img.version_ == 2 ? 540 : 348));
  img.validate();
  const nifti_image& h = *img.nim_;
  img.data_offset_ = static_cast<std::size_t>(h.iname_offset);
  const std::size_t need = static_cast<std::size_t>(h.nvox) * static_cast<std::size_t>(h.nbyper);
  st.size = img.data_offset_ + need;
  if (gz) {
    st.image.reset(new std::uint8_t[st.size]);  // not zero-filled: inflate writes every byte
    std::memcpy(st.image.get(), head.data(), std::min(head.size(), st.size));
    std::size_t have = std::min(head.size(), st.size);
    if (have < img.data_offset_) {
      std::size_t got = st.reader->read(st.image.get() + have, img.data_offset_ - have);
      have += got;
      if (have < img.data_offset_) throw InputError(path, "", "truncated before the voxel data");
    }
    st.bytes = st.image.get();
    st.available = have;
    st.thread = std::thread(
        [&st, path, have, off = img.data_offset_] { st.inflate_rest(have, path, off); });
  } else {
    if (file.size() < st.size) {
      std::size_t have = file.size() > img.data_offset_ ? file.size() - img.data_offset_ : 0;
      throw InputError(path, "",
                       "truncated: " + std::to_string(have) + " bytes of voxel data, " +
                           std::to_string(need) + " expected");
    }
    st.bytes = file.data();
    st.available = st.size;
  }
  parse_extensions(img.nim_, st.bytes, img.raw_header_.size(), img.data_offset_, img.swapped());
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
    double r[9] = {1.0 - (yY + zZ), xY - wZ, xZ + wY, xY + wZ,        1.0 - (xX + zZ),
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

bool NiftiImage::inflating() const {
  std::lock_guard<std::mutex> lock(stream_->mu);
  return stream_->reader != nullptr && stream_->available < stream_->size && !stream_->error;
}

void NiftiImage::wait_complete() const { stream_->wait_for(stream_->size); }

std::size_t NiftiImage::read_volume(std::int64_t t, float* out) const {
  const nifti_image& h = *nim_;
  std::size_t n = shape().voxels();
  const std::size_t begin =
      data_offset_ + static_cast<std::size_t>(t) * n * static_cast<std::size_t>(h.nbyper);
  stream_->wait_for(begin + n * static_cast<std::size_t>(h.nbyper));
  const std::uint8_t* src = stream_->bytes + begin;
  bool swap = h.byteorder != nifti_short_order();
  double slope = h.scl_slope, inter = h.scl_inter;
  NiftiScaling scaling = NiftiScaling::kNone;
  if (std::isfinite(slope) && slope != 0.0 && !(slope == 1.0 && inter == 0.0)) {
    scaling = NiftiScaling::kFloat64;
  }
  // A .nii is decoded straight from the mapping. A .nii.gz volume is in memory and was inflated
  // before any fault, but once the inflater found the file shrinking the image cannot be
  // finished, so its next volume fails at once rather than after more work.
  return stream_->file->guarded(path_, "volume " + std::to_string(t), [&] {
    return decode_volume(h.datatype, src, n, swap, scaling, slope, inter, out, path_);
  });
}

}  // namespace tandem
