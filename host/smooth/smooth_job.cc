// SPDX-License-Identifier: Apache-2.0
#include "smooth/smooth_job.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include "core/error.h"
#include "core/interrupt.h"
#include "core/workers.h"
#include "smooth/gpu_smoother.h"
#include "smooth/gpu_volume_loop.h"
#include "smooth/output_name.h"

namespace tandem {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Not zero-filled: every element is written before it is read.
std::unique_ptr<float[]> uninitialized_floats(std::size_t n) {
  return std::unique_ptr<float[]>(new float[std::max<std::size_t>(n, 1)]);
}

// (v·M)⊛G / (M⊛G) inside the mask, 0 outside; `work` holds v and is overwritten.
void apply_masked(const SeparableGaussian& g, const SmoothingMask& m, float* work, float* out,
                  float* scratch, float* masked, int threads) {
  const std::size_t n = g.shape().voxels();
  for (std::size_t i = 0; i < n; ++i) masked[i] = m.inside[i] ? work[i] : 0.0f;
  g.apply(masked, out, scratch, threads);
  for (std::size_t i = 0; i < n; ++i) out[i] = m.inside[i] ? out[i] / m.smoothed[i] : 0.0f;
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

// "6" or "6,6,8": the FWHM as --fwhm takes it.
std::string fwhm_text(const std::array<double, 3>& f) {
  if (f[0] == f[1] && f[1] == f[2]) return format_number(f[0]);
  return format_number(f[0]) + "," + format_number(f[1]) + "," + format_number(f[2]);
}

std::int64_t longest_axis(const VolumeShape& s) { return std::max({s.nx, s.ny, s.nz}); }

// A kernel far wider than the image only averages it, at a cost that grows with its radius:
// refused per image (the limit depends on its grid) before anything is allocated or written.
void check_kernel_width(const std::string& input, const SmoothOptions& opt,
                        const SmoothReport& rep) {
  const std::string why = kernel_radius_problem(rep.sigma_voxels, longest_axis(rep.shape));
  if (!why.empty()) {
    throw InputError(input, "", "--fwhm " + fwhm_text(opt.fwhm_mm) + ": " + why);
  }
}

std::string descrip_for(const std::array<double, 3>& fwhm) {
  return "tandem smooth fwhm=" + fwhm_label(fwhm) + "mm";
}

// The device for `g`: SmoothOptions::gpu when it implements this filter, else the CPU. The report
// says which ran and, when the GPU was passed over, why.
const GpuSmoother* device_for(const SmoothOptions& opt, const SeparableGaussian& g,
                              SmoothReport& rep) {
  rep.device = "cpu";
  if (!opt.gpu) return nullptr;
  std::string why = opt.gpu->unsupported(g);
  if (!why.empty()) {
    rep.device_note = why;
    return nullptr;
  }
  rep.device = opt.gpu->name();
  return opt.gpu.get();
}

NiftiWriteOptions write_options(const NiftiImage& img, const SmoothOptions& opt,
                                const std::string& descrip) {
  NiftiWriteOptions w;
  w.datatype = opt.keep_datatype ? img.header().datatype : NIFTI_TYPE_FLOAT32;
  w.compression_level = opt.compression_level;
  w.threads = opt.threads;
  w.descrip = descrip;
  return w;
}

}  // namespace

namespace {

// "19x20x10" for a 3-D file, "19x20x10x2" for a 4-D one: as the file declares itself.
std::string declared_dims(const NiftiImage& img) {
  const nifti_image& h = img.header();
  std::string s;
  for (int i = 1; i <= h.dim[0]; ++i) s += (i > 1 ? "x" : "") + std::to_string(h.dim[i]);
  return s;
}

// The translation column of nibabel's img.affine: sform when sform_code > 0, else qform when
// qform_code > 0, else nibabel's base affine (the grid centred on the origin, x flipped).
std::array<double, 3> affine_offset(const NiftiImage& img) {
  const nifti_image& h = img.header();
  if (h.sform_code > 0) return {h.sto_xyz.m[0][3], h.sto_xyz.m[1][3], h.sto_xyz.m[2][3]};
  if (h.qform_code > 0) return {h.qoffset_x, h.qoffset_y, h.qoffset_z};
  const VolumeShape s = img.shape();
  auto centre = [](std::int64_t n, double d) { return (static_cast<double>(n) - 1) / 2 * d; };
  return {centre(s.nx, std::fabs(h.pixdim[1])), -centre(s.ny, std::fabs(h.pixdim[2])),
          -centre(s.nz, std::fabs(h.pixdim[3]))};
}

bool nearly_equal(double a, double b) {
  return std::fabs(a - b) <= 1e-4 * std::max(1.0, std::fabs(b));
}

}  // namespace

void check_mask_file(const std::string& mask_path) {
  NiftiImage m = NiftiImage::read(mask_path);
  if (m.volumes() != 1) {
    throw InputError(mask_path, "", "a mask is one 3-D volume; this one is " + declared_dims(m));
  }
  m.wait_complete();
}

SmoothingMask load_mask(const std::string& mask_path, const NiftiImage& image) {
  NiftiImage m = NiftiImage::read(mask_path);
  if (!(m.shape() == image.shape()) || m.volumes() != 1) {
    const VolumeShape t = image.shape();
    throw InputError(image.path(), "",
                     "mask " + mask_path + " is " + declared_dims(m) + ", the image is " +
                         std::to_string(t.nx) + "x" + std::to_string(t.ny) + "x" +
                         std::to_string(t.nz));
  }
  // The whole affine: a mask of the same shape and voxel size shifted in space is another grid.
  auto a = m.affine3(), b = image.affine3();
  auto at = affine_offset(m), bt = affine_offset(image);
  bool same = true;
  for (int i = 0; i < 9; ++i) same = same && nearly_equal(a[i], b[i]);
  for (int i = 0; i < 3; ++i) same = same && nearly_equal(at[i], bt[i]);
  if (!same) {
    throw InputError(image.path(), "",
                     "mask " + mask_path + ": affine differs from the image's (not the same grid)");
  }
  std::vector<float> v(m.shape().voxels());
  m.read_volume(0, v.data());
  SmoothingMask out;
  out.inside.resize(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out.inside[i] = v[i] != 0.0f;
  return out;
}

std::size_t smooth_volumes(const SeparableGaussian& g, std::int64_t volumes,
                           const VolumeSource& source, SmoothingMask* mask, int threads, float* out,
                           NiftiStreamWriter* sink, const GpuSmoother* gpu) {
  const std::size_t n = g.shape().voxels();
  const int workers =
      static_cast<int>(std::clamp<std::int64_t>(threads, 1, std::max<std::int64_t>(volumes, 1)));
  // Spare threads (fewer volumes than threads) split each pass by slices instead.
  const int inner = std::max(1, threads / workers);
  if (mask) {
    std::vector<float> ones(n), scratch(n);
    for (std::size_t i = 0; i < n; ++i) ones[i] = mask->inside[i] ? 1.0f : 0.0f;
    mask->smoothed.resize(n);
    g.apply(ones.data(), mask->smoothed.data(), scratch.data(), threads);
  }
  if (gpu) return smooth_volumes_on_gpu(g, *gpu, volumes, source, mask, threads, out, sink);
  std::atomic<std::int64_t> next{0};
  std::atomic<std::size_t> nonfinite{0};
  auto work = [&](int) {
    std::vector<float> in(n), scratch(n), masked(mask ? n : 0);
    for (std::int64_t t = next++; t < volumes; t = next++) {
      if (interrupted()) throw InterruptedError();
      nonfinite += source(t, in.data());
      float* dst = out + static_cast<std::size_t>(t) * n;
      if (mask) {
        apply_masked(g, *mask, in.data(), dst, scratch.data(), masked.data(), inner);
      } else {
        g.apply(in.data(), dst, scratch.data(), inner);
      }
      if (sink) {
        sink->volume_done(t);
        while (sink->run_task(false)) {
        }
      }
    }
    if (sink) {
      while (sink->run_task(true)) {
      }
    }
  };
  run_workers(workers, work, [&] {
    next = volumes;  // the others stop after their current volume
    if (sink) sink->abort();
  });
  return nonfinite.load();
}

namespace {

SmoothnessEstimate estimate_series(const float* data, const VolumeShape& shape,
                                   std::int64_t volumes, const std::array<double, 3>& voxel,
                                   const SmoothingMask* mask) {
  std::vector<SmoothnessEstimate> per(static_cast<std::size_t>(volumes));
  const std::uint8_t* m = mask ? mask->inside.data() : nullptr;
  for (std::int64_t t = 0; t < volumes; ++t) {
    per[static_cast<std::size_t>(t)] =
        estimate_fwhm_classic(data + static_cast<std::size_t>(t) * shape.voxels(), shape, voxel, m);
  }
  return average_estimates(per.data(), volumes);
}

// One --to-fwhm trial: `input` blurred by an isotropic `fwhm` (mm) into `out`; returns the
// estimate of the result and records both in the report.
double blur_trial(const NiftiImage& img, const SmoothOptions& opt, SmoothingMask* mask,
                  const float* input, float* out, double fwhm, SmoothReport& rep) {
  const VolumeShape shape = img.shape();
  rep.trial_fwhm_mm.push_back(fwhm);
  rep.sigma_voxels = sigmas_in_voxels({fwhm, fwhm, fwhm}, rep.voxel_mm);
  SeparableGaussian g(shape, rep.sigma_voxels, opt.edges);
  smooth_volumes(
      g, img.volumes(),
      [&](std::int64_t t, float* dst) {
        std::copy_n(input + static_cast<std::size_t>(t) * shape.voxels(), shape.voxels(), dst);
        return std::size_t{0};
      },
      mask, opt.threads, out, nullptr, device_for(opt, g, rep));
  rep.estimates.push_back(estimate_series(out, shape, img.volumes(), rep.voxel_mm, mask));
  return rep.estimates.back().combined_mm;
}

// The next total FWHM to try. Gaussian widths add in squares, so est² is close to linear in F²:
// interpolate there between the trials below and above the aim. Before one lands above, grow
// at least 1.2× per trial and at most 4× (2× when the estimate did not move: sub-voxel kernels
// barely change it, so the secant through them is flat or wild); once bracketed, stay a tenth
// inside the bracket so that it shrinks every time.
double next_fwhm(double aim, double lo_f, double lo_e, double hi_f, double hi_e, double prev_f,
                 double prev_e) {
  auto square_secant = [&](double f1, double e1, double f2, double e2) {
    double slope = (e2 * e2 - e1 * e1) / (f2 * f2 - f1 * f1);
    return slope > 0 ? std::sqrt(std::max(0.0, f1 * f1 + (aim * aim - e1 * e1) / slope)) : 0.0;
  };
  if (hi_f < 0) {
    if (lo_e - prev_e <= 0.01 * lo_e) return 2 * lo_f;  // a flat secant says nothing
    double f = square_secant(prev_f, prev_e, lo_f, lo_e);
    return std::clamp(f > 0 ? f : 2 * lo_f, 1.2 * lo_f, 2 * lo_f);
  }
  double f = square_secant(lo_f, lo_e, hi_f, hi_e);
  const double margin = 0.1 * (hi_f - lo_f);
  return std::clamp(f > 0 ? f : 0.5 * (lo_f + hi_f), lo_f + margin, hi_f - margin);
}

// 3dBlurToFWHM's goal: the classic estimate of the output lies in [G, 1.1·G]. Every trial blurs
// the input itself by a total FWHM F (blurring a blurred copy again in small steps changes
// nothing once the kernels are sub-voxel), so the output is exactly `--fwhm F` of the input. F
// starts at √(aim² − est²), grows until the estimate passes G and is then narrowed until it lands
// in the window. Returns the buffer holding the result: `data` when the input is already there.
const float* blur_to_fwhm(const NiftiImage& img, const SmoothOptions& opt, SmoothingMask* mask,
                          const float* data, float* out, SmoothReport& rep) {
  constexpr int kMaxTrials = 12;
  const double goal = opt.to_fwhm_mm, top = 1.1 * goal, aim = 1.05 * goal;
  const std::string what = "--to-fwhm " + format_number(goal);
  rep.estimates.push_back(estimate_series(data, img.shape(), img.volumes(), rep.voxel_mm, mask));
  const double start = rep.estimates.back().combined_mm;
  if (start >= goal && start <= top) return data;
  if (start > top) {
    throw InputError(img.path(), "",
                     what + ": the image is already smoother (" + format_number(start) +
                         " mm) than the goal " + format_number(goal) + " mm; nothing was written");
  }
  // White noise can leave every axis undefined (first-difference ratios ≤ 0): that is "rougher
  // than any estimate", 0 mm, and the first blur makes it definable. A constant image stays
  // undefined and fails below.
  double lo_f = 0, lo_e = std::max(start, 0.0), hi_f = -1, hi_e = 0;
  double prev_f = 0, prev_e = lo_e;
  double f = std::sqrt(aim * aim - lo_e * lo_e);
  // The search grows the blur only up to the widest kernel --fwhm would accept.
  const double widest = widest_isotropic_fwhm_mm(rep.voxel_mm, longest_axis(img.shape()));
  auto too_wide = [&](const std::string& result) {
    return InputError(img.path(), "",
                      what + ": the widest blur this image takes, FWHM " + format_number(widest) +
                          " mm (a kernel radius of " +
                          std::to_string(kernel_radius_limit(longest_axis(img.shape()))) +
                          " voxels, the larger of 1024 and 16 × its longest axis), " + result);
  };
  for (int trial = 0; trial < kMaxTrials; ++trial) {
    f = std::min(f, widest);
    double e = blur_trial(img, opt, mask, data, out, f, rep);
    if (f == widest && e < goal) {
      throw too_wide(e < 0 ? "leaves nothing to estimate"
                           : "reaches only " + format_number(e) + " mm");
    }
    if (e < 0) throw InputError(img.path(), "", what + ": smoothness cannot be estimated");
    if (e >= goal && e <= top) {
      rep.applied_fwhm_mm = f;
      return out;
    }
    if (e < goal) {
      prev_f = lo_f, prev_e = lo_e;
      lo_f = f, lo_e = e;
    } else {
      hi_f = f, hi_e = e;
    }
    f = next_fwhm(aim, lo_f, lo_e, hi_f, hi_e, prev_f, prev_e);
  }
  throw InputError(
      img.path(), "",
      what + ": no blur reached [goal, 1.1·goal] in " + std::to_string(kMaxTrials) +
          " trials (FWHM " + format_number(lo_f) + " mm gave " + format_number(lo_e) + " mm" +
          (hi_f > 0 ? ", " + format_number(hi_f) + " mm gave " + format_number(hi_e) + " mm"
                    : std::string()) +
          ")");
}

}  // namespace

SmoothReport smooth_file(const std::string& input, const std::string& output,
                         const SmoothOptions& opt) {
  SmoothReport rep;
  rep.input = input;
  rep.output = output;
  auto t0 = std::chrono::steady_clock::now();
  NiftiImage img = NiftiImage::read(input);
  rep.shape = img.shape();
  rep.volumes = img.volumes();
  rep.voxel_mm = img.voxel_sizes();
  if (opt.to_fwhm_mm <= 0) {
    rep.sigma_voxels = sigmas_in_voxels(opt.fwhm_mm, rep.voxel_mm);
    check_kernel_width(input, opt, rep);
  }
  std::unique_ptr<SmoothingMask> mask;
  if (!opt.mask_path.empty()) mask = std::make_unique<SmoothingMask>(load_mask(opt.mask_path, img));
  rep.read_seconds = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  const std::size_t total = rep.shape.voxels() * static_cast<std::size_t>(rep.volumes);
  auto data = uninitialized_floats(total);
  if (opt.to_fwhm_mm > 0) {
    for (std::int64_t t = 0; t < rep.volumes; ++t) {
      float* v = data.get() + static_cast<std::size_t>(t) * rep.shape.voxels();
      rep.nonfinite += img.read_volume(t, v);
      if (mask) {
        for (std::size_t i = 0; i < rep.shape.voxels(); ++i) v[i] = mask->inside[i] ? v[i] : 0.0f;
      }
    }
    auto blurred = uninitialized_floats(total);
    const float* result = blur_to_fwhm(img, opt, mask.get(), data.get(), blurred.get(), rep);
    rep.filter_seconds = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    NiftiWriteOptions w =
        write_options(img, opt, "tandem smooth to-fwhm=" + format_number(opt.to_fwhm_mm) + "mm");
    write_nifti_like(img, output, result, w);
    rep.write_seconds = seconds_since(t0);
    return rep;
  }
  // Inflating the input, smoothing, compressing and writing the output all overlap: the filter
  // time reported includes waiting for input, the write time is what is left after the last
  // volume (the tail of compression, the header, fdatasync and rename).
  SeparableGaussian g(rep.shape, rep.sigma_voxels, opt.edges);
  NiftiStreamWriter writer(img, output, write_options(img, opt, descrip_for(opt.fwhm_mm)),
                           data.get());
  // The inflater thread counts against the core budget: one worker fewer while it runs (on the
  // bench machine 1 worker + inflater was as fast as 2 + inflater).
  const int workers = img.inflating() ? std::max(1, opt.threads - 1) : opt.threads;
  rep.nonfinite = smooth_volumes(
      g, rep.volumes, [&](std::int64_t t, float* dst) { return img.read_volume(t, dst); },
      mask.get(), workers, data.get(), &writer, device_for(opt, g, rep));
  rep.filter_seconds = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  writer.finish();
  rep.write_seconds = seconds_since(t0);
  return rep;
}

SmoothReport time_filter_only(const std::string& input, const SmoothOptions& opt) {
  SmoothReport rep;
  rep.input = input;
  NiftiImage img = NiftiImage::read(input);
  rep.shape = img.shape();
  rep.volumes = img.volumes();
  rep.voxel_mm = img.voxel_sizes();
  rep.sigma_voxels = sigmas_in_voxels(opt.fwhm_mm, rep.voxel_mm);
  check_kernel_width(input, opt, rep);
  const std::size_t n = rep.shape.voxels();
  std::vector<float> decoded(n * static_cast<std::size_t>(rep.volumes));
  for (std::int64_t t = 0; t < rep.volumes; ++t) {
    rep.nonfinite += img.read_volume(t, decoded.data() + static_cast<std::size_t>(t) * n);
  }
  std::vector<float> out(decoded.size());
  auto t0 = std::chrono::steady_clock::now();
  SeparableGaussian g(rep.shape, rep.sigma_voxels, opt.edges);
  smooth_volumes(
      g, rep.volumes,
      [&](std::int64_t t, float* dst) {
        std::copy_n(decoded.data() + static_cast<std::size_t>(t) * n, n, dst);
        return std::size_t{0};
      },
      nullptr, opt.threads, out.data(), nullptr, device_for(opt, g, rep));
  rep.filter_seconds = seconds_since(t0);
  return rep;
}

SmoothnessEstimate estimate_file(const std::string& input, const std::string& mask_path,
                                 int threads, SmoothReport* report) {
  (void)threads;
  NiftiImage img = NiftiImage::read(input);
  std::unique_ptr<SmoothingMask> mask;
  if (!mask_path.empty()) mask = std::make_unique<SmoothingMask>(load_mask(mask_path, img));
  const VolumeShape shape = img.shape();
  std::vector<float> data(shape.voxels() * static_cast<std::size_t>(img.volumes()));
  std::size_t nonfinite = 0;
  for (std::int64_t t = 0; t < img.volumes(); ++t) {
    nonfinite += img.read_volume(t, data.data() + static_cast<std::size_t>(t) * shape.voxels());
  }
  SmoothnessEstimate est =
      estimate_series(data.data(), shape, img.volumes(), img.voxel_sizes(), mask.get());
  if (report) {
    report->input = input;
    report->shape = shape;
    report->volumes = img.volumes();
    report->voxel_mm = img.voxel_sizes();
    report->nonfinite = nonfinite;
    report->estimates.push_back(est);
  }
  return est;
}

}  // namespace tandem
