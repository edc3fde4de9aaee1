// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/nifti_image.h"
#include "smooth/nifti_stream_writer.h"
#include "smooth/separable_filter.h"
#include "smooth/smoothness.h"

namespace tandem {

class GpuSmoother;

/// What `tandem smooth` does to one image.
struct SmoothOptions {
  std::array<double, 3> fwhm_mm{};  ///< FWHM per axis in mm (0 skips the axis)
  /// > 0: instead of fwhm_mm, blur by the isotropic FWHM whose result has a classic estimate in
  /// [to_fwhm_mm, 1.1·to_fwhm_mm] (3dBlurToFWHM's goal); the input's own estimate must be below.
  double to_fwhm_mm = 0;
  EdgeMode edges = EdgeMode::kReflect;
  std::string mask_path;       ///< empty: no mask
  bool keep_datatype = false;  ///< write the input's datatype instead of float32
  int compression_level = 1;   ///< zlib-scale gzip level for .nii.gz outputs
  int threads = 1;             ///< worker threads (volumes in parallel, gzip members)
  /// The device for the Gaussian passes (make_gpu_smoother()); null: the CPU. Used wherever the
  /// device implements the same filter (reflect edges, a radius it takes), else the CPU runs.
  std::shared_ptr<const GpuSmoother> gpu;
};

/// What happened to one image; filled in as far as the work got.
struct SmoothReport {
  std::string input;
  std::string output;
  VolumeShape shape;
  std::int64_t volumes = 0;
  std::array<double, 3> voxel_mm{};      ///< affine column norms
  std::array<double, 3> sigma_voxels{};  ///< σ used per axis (the last trial's for --to-fwhm)
  std::size_t nonfinite = 0;             ///< NaN/±Inf input values replaced by 0
  /// --to-fwhm: the estimate of the input, then of each trial blur; --estimate: the estimate.
  std::vector<SmoothnessEstimate> estimates;
  /// --to-fwhm: the isotropic total FWHM (mm) of each trial blur, each of the input itself.
  std::vector<double> trial_fwhm_mm;
  /// --to-fwhm: the FWHM (mm) of the output, as `--fwhm` would apply it to the input; 0 when the
  /// input already met the goal and was written unblurred.
  double applied_fwhm_mm = 0;
  double read_seconds = 0, filter_seconds = 0, write_seconds = 0;
  std::string device = "cpu";  ///< where the passes ran: "cpu" or the GpuSmoother's name()
  /// Why the CPU ran although SmoothOptions::gpu was set ("" otherwise).
  std::string device_note;
};

/// A binary mask on the image grid and its smoothed copy, the denominator of (img·M)⊛G / (M⊛G).
struct SmoothingMask {
  std::vector<std::uint8_t> inside;  ///< 1 where the mask image is non-zero
  std::vector<float> smoothed;       ///< M⊛G, set by smooth_volumes()
};

/// Reads `mask_path` whole, before any image is processed; throws InputError naming the mask when
/// it cannot be read, is not NIfTI, is truncated or holds more than one volume.
void check_mask_file(const std::string& mask_path);

/// Loads `mask_path` and checks that its grid (shape and the whole affine, rotation, zooms and
/// origin, to 1e-4 relative) matches `image`; throws InputError naming the image and the mask
/// otherwise ("bold.nii.gz: mask m.nii.gz is 19x20x10, the image is 20x20x10").
SmoothingMask load_mask(const std::string& mask_path, const NiftiImage& image);

/// Writes volume t into the buffer (shape.voxels() floats); returns non-finite values zeroed.
using VolumeSource = std::function<std::size_t(std::int64_t t, float* dst)>;

/// Smooths `volumes` volumes from `source` into `out` (volumes · shape.voxels() floats), volumes in
/// parallel on `threads` threads. With a mask, each volume becomes (v·M)⊛G / (M⊛G) inside the mask
/// and 0 outside. Returns the total count of non-finite inputs. Polls interrupted(). With a
/// `sink`, each finished volume is handed to it and the workers also run its compress/write tasks
/// (the caller then calls sink->finish()). With `gpu` (gpu->unsupported(filter) must be empty)
/// the passes run on that device, bit for bit the same (smooth_volumes_on_gpu()).
std::size_t smooth_volumes(const SeparableGaussian& filter, std::int64_t volumes,
                           const VolumeSource& source, SmoothingMask* mask, int threads, float* out,
                           NiftiStreamWriter* sink = nullptr, const GpuSmoother* gpu = nullptr);

/// Reads `input`, smooths it per `options` and writes `output` atomically. Throws InputError
/// (file, item, reason) for bad inputs and Error for write failures.
SmoothReport smooth_file(const std::string& input, const std::string& output,
                         const SmoothOptions& options);

/// Benchmark of the smoothing step alone: decodes `input` into memory (untimed), then times
/// smooth_volumes() over it into `filter_seconds` (volume copy, three passes; nothing written).
SmoothReport time_filter_only(const std::string& input, const SmoothOptions& options);

/// The classic smoothness estimate of `input` (averaged over volumes), inside `mask_path` if set.
SmoothnessEstimate estimate_file(const std::string& input, const std::string& mask_path,
                                 int threads, SmoothReport* report = nullptr);

}  // namespace tandem
