// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>

#include "smooth/gpu_smoother.h"
#include "smooth/nifti_stream_writer.h"
#include "smooth/smooth_job.h"

namespace tandem {

/// Bytes of input volumes handed to the device at once: large enough that transfers and launches
/// run near full speed, small enough that reading the next chunk (and compressing the last one)
/// overlaps the device work for a typical series.
inline constexpr std::size_t kGpuChunkBytes = 32u << 20;

/// smooth_volumes() with the passes on `gpu` (gpu.unsupported(g) must be empty), same contract
/// and the same output bit for bit: `threads` threads read volumes from `source` (and apply the
/// mask, whose `smoothed` must be set) into chunks of `chunk_bytes` (at least one volume); whoever
/// reads the last volume of a chunk filters it on the device, into `out`, and hands its volumes
/// to `sink`, while the others read the next chunk (two staging buffers) and run the sink's
/// compress/write tasks. Returns the total count of non-finite inputs. Polls interrupted().
std::size_t smooth_volumes_on_gpu(const SeparableGaussian& g, const GpuSmoother& gpu,
                                  std::int64_t volumes, const VolumeSource& source,
                                  const SmoothingMask* mask, int threads, float* out,
                                  NiftiStreamWriter* sink,
                                  std::size_t chunk_bytes = kGpuChunkBytes);

}  // namespace tandem
