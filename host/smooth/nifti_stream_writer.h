// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "io/nifti_image.h"
#include "smooth/nifti_writer.h"

namespace tandem {

/// Writes a smoothed image while it is still being computed: the output (like write_nifti_like())
/// is cut into members of a few MiB, each compressed (for .nii.gz) and written as soon as the
/// volumes it covers are final, by whichever worker thread calls run_task(). The header comes
/// last, into room reserved at the start (a stored gzip member of known size), because cal_min /
/// cal_max need the whole data range. The file has a temporary name until finish(). Thread-safe.
class NiftiStreamWriter {
 public:
  /// `data` holds like.volumes() volumes of like.shape().voxels() floats; it must outlive the
  /// writer, and volume t must not change after volume_done(t).
  NiftiStreamWriter(const NiftiImage& like, const std::string& path,
                    const NiftiWriteOptions& options, const float* data);

  /// Volume t is final; members it completes become tasks.
  void volume_done(std::int64_t t);
  /// Runs one pending task (compress and/or write a member). With `wait`, blocks until there is
  /// one; returns false when there is none and, with `wait`, none can come any more.
  bool run_task(bool wait);
  /// Wakes blocked run_task() callers for good (a worker failed); the output is then discarded.
  void abort() noexcept;
  /// Runs what is left, writes the header and renames the file into place.
  void finish();

 private:
  void compress_member(std::int64_t m);
  void flush_in_order();  // caller holds write_mu_

  const NiftiImage& like_;
  NiftiWriteOptions options_;
  const float* data_;
  bool gz_;
  std::size_t elem_size_;
  std::size_t total_voxels_, volume_voxels_, member_voxels_;
  std::int64_t volumes_, members_;
  std::size_t header_size_;  // nifti_output_header() bytes
  std::size_t data_start_;   // file offset of the first data member

  AtomicFile file_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::int64_t> ready_;    // guarded by mu_
  std::vector<int> waiting_volumes_;  // per member, guarded by mu_
  std::int64_t volumes_done_ = 0;     // guarded by mu_
  bool aborted_ = false;              // guarded by mu_
  std::vector<float> lo_, hi_;        // per member data range, written by its task only

  std::mutex write_mu_;
  std::vector<std::vector<std::uint8_t>> compressed_;  // guarded by write_mu_
  std::vector<char> compressed_ready_;                 // guarded by write_mu_
  std::int64_t next_write_ = 0;                        // guarded by write_mu_
  std::uint64_t write_offset_ = 0;                     // guarded by write_mu_
};

}  // namespace tandem
