// SPDX-License-Identifier: Apache-2.0
#include "smooth/nifti_stream_writer.h"

#include <algorithm>

#include "core/error.h"
#include "smooth/gzip_codec.h"
#include "smooth/simd_clones.h"

namespace tandem {

namespace {
// Large enough that gzip members cost nothing in ratio, small enough to spread over threads.
constexpr std::size_t kMemberBytes = 4u << 20;

TANDEM_SIMD_CLONES void value_range(const float* v, std::size_t n, float* lo, float* hi) {
  float mn = v[0], mx = v[0];
  for (std::size_t i = 1; i < n; ++i) {
    mn = v[i] < mn ? v[i] : mn;
    mx = v[i] > mx ? v[i] : mx;
  }
  *lo = mn;
  *hi = mx;
}
}  // namespace

NiftiStreamWriter::NiftiStreamWriter(const NiftiImage& like, const std::string& path,
                                     const NiftiWriteOptions& options, const float* data)
    : like_(like), options_(options), data_(data), gz_(gzip_output_name(path)), file_(path) {
  elem_size_ = static_cast<std::size_t>(nifti_bytes_per_voxel(options.datatype));
  volume_voxels_ = like.shape().voxels();
  volumes_ = like.volumes();
  total_voxels_ = volume_voxels_ * static_cast<std::size_t>(volumes_);
  member_voxels_ = std::max<std::size_t>(1, kMemberBytes / elem_size_);
  members_ = static_cast<std::int64_t>((total_voxels_ + member_voxels_ - 1) / member_voxels_);
  header_size_ = nifti_output_header(like, options.datatype, 0, 0, options.descrip).size();
  data_start_ = gz_ ? gzip_stored_member_size(header_size_) : header_size_;
  write_offset_ = data_start_;
  waiting_volumes_.resize(static_cast<std::size_t>(members_));
  for (std::int64_t m = 0; m < members_; ++m) {
    std::size_t first = static_cast<std::size_t>(m) * member_voxels_;
    std::size_t last = std::min(total_voxels_, first + member_voxels_) - 1;
    waiting_volumes_[static_cast<std::size_t>(m)] =
        static_cast<int>(last / volume_voxels_ - first / volume_voxels_ + 1);
  }
  lo_.resize(static_cast<std::size_t>(members_));
  hi_.resize(static_cast<std::size_t>(members_));
  compressed_.resize(static_cast<std::size_t>(members_));
  compressed_ready_.resize(static_cast<std::size_t>(members_), 0);
}

void NiftiStreamWriter::volume_done(std::int64_t t) {
  const std::size_t begin = static_cast<std::size_t>(t) * volume_voxels_;
  const std::int64_t m0 = static_cast<std::int64_t>(begin / member_voxels_);
  const std::int64_t m1 = static_cast<std::int64_t>((begin + volume_voxels_ - 1) / member_voxels_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::int64_t m = m0; m <= m1; ++m) {
      if (--waiting_volumes_[static_cast<std::size_t>(m)] == 0) ready_.push_back(m);
    }
    ++volumes_done_;
  }
  cv_.notify_all();
}

bool NiftiStreamWriter::run_task(bool wait) {
  std::int64_t m;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (wait) {
      cv_.wait(lock, [&] { return !ready_.empty() || aborted_ || volumes_done_ == volumes_; });
    }
    if (ready_.empty() || aborted_) return false;
    m = ready_.front();
    ready_.pop_front();
  }
  compress_member(m);
  return true;
}

void NiftiStreamWriter::abort() noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    aborted_ = true;
  }
  cv_.notify_all();
}

void NiftiStreamWriter::compress_member(std::int64_t m) {
  const std::size_t first = static_cast<std::size_t>(m) * member_voxels_;
  const std::size_t n = std::min(total_voxels_, first + member_voxels_) - first;
  const float* src = data_ + first;
  value_range(src, n, &lo_[static_cast<std::size_t>(m)], &hi_[static_cast<std::size_t>(m)]);
  const std::uint8_t* bytes = reinterpret_cast<const std::uint8_t*>(src);
  std::vector<std::uint8_t> encoded;
  if (options_.datatype != NIFTI_TYPE_FLOAT32) {
    encoded.resize(n * elem_size_);
    encode_voxels(options_.datatype, src, n, encoded.data());
    bytes = encoded.data();
  }
  if (!gz_) {
    // Raw members have fixed offsets: no ordering needed.
    file_.pwrite_all(bytes, n * elem_size_, data_start_ + first * elem_size_);
    return;
  }
  std::vector<std::uint8_t> z;
  z.reserve(n * elem_size_ + n * elem_size_ / 8 + 1024);
  detail::gzip_compress_member(bytes, n * elem_size_, options_.compression_level, z);
  std::lock_guard<std::mutex> lock(write_mu_);
  compressed_[static_cast<std::size_t>(m)] = std::move(z);
  compressed_ready_[static_cast<std::size_t>(m)] = 1;
  flush_in_order();
}

void NiftiStreamWriter::flush_in_order() {
  while (next_write_ < members_ && compressed_ready_[static_cast<std::size_t>(next_write_)]) {
    auto& z = compressed_[static_cast<std::size_t>(next_write_)];
    file_.pwrite_all(z.data(), z.size(), write_offset_);
    write_offset_ += z.size();
    std::vector<std::uint8_t>().swap(z);
    ++next_write_;
  }
}

void NiftiStreamWriter::finish() {
  while (run_task(false)) {
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (aborted_ || volumes_done_ != volumes_ || !ready_.empty()) {
      throw Error("internal: output " + file_.final_path() + " finished before all volumes");
    }
  }
  float lo = members_ > 0 ? *std::min_element(lo_.begin(), lo_.end()) : 0.0f;
  float hi = members_ > 0 ? *std::max_element(hi_.begin(), hi_.end()) : 0.0f;
  std::vector<std::uint8_t> head =
      nifti_output_header(like_, options_.datatype, lo, hi, options_.descrip);
  if (gz_) head = gzip_stored_member(head.data(), head.size());
  file_.pwrite_all(head.data(), head.size(), 0);
  file_.commit();
}

}  // namespace tandem
