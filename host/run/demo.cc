// SPDX-License-Identifier: Apache-2.0
#include "run/demo.h"

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/interrupt.h"
#include "smooth/output_name.h"
#include "smooth/smooth_job.h"
#include "svd/matrix_source.h"
#include "svd/serial_baseline.h"

namespace tandem::run {

namespace {

namespace fs = std::filesystem;

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::array<double, 3> isotropic(double mm) { return {mm, mm, mm}; }

}  // namespace

DemoSizes demo_sizes(bool quick) {
  DemoSizes s;
  if (quick) {
    s.svd_random = "4x300x300";
    s.study.subjects = 2;
    s.study.shape = VolumeShape{32, 32, 16};
    s.study.volumes = 10;
  }
  return s;
}

DemoSetup prepare_demo(const std::string& dir, const DemoSizes& sizes, int threads) {
  DemoSetup d;
  d.dir = fs::absolute(dir).lexically_normal().string();
  d.fwhm_mm = sizes.fwhm_mm;
  d.study_fwhm_mm = sizes.study.fwhm_mm;
  d.study = write_synthetic_study(d.dir, sizes.study, threads);

  d.svd_output_dir = d.dir + "/svd";
  d.svd_output = d.svd_output_dir + "/random.npz";
  d.plan.path = "(tandem demo)";
  d.plan.svd.present = true;
  d.plan.svd.random = sizes.svd_random;
  d.plan.svd.output = d.svd_output_dir;

  // The same names `tandem smooth -o DIR` would give (desc-sm<fwhm> before the suffix).
  d.smooth_dir = d.dir + "/derivatives/smooth";
  std::error_code ec;
  fs::create_directories(d.smooth_dir, ec);
  if (ec) throw Error("cannot create " + d.smooth_dir + ": " + ec.message());
  const std::string label = fwhm_label(isotropic(sizes.fwhm_mm));
  const std::string suffix = "_task-rest_desc-sm" + label + "_bold.nii.gz";
  d.plan.smooth.present = true;
  d.plan.smooth.subjects = d.study.participants_tsv;
  d.plan.smooth.input = d.dir + "/{participant_id}/func/{participant_id}_task-rest_bold.nii.gz";
  d.plan.smooth.output = d.smooth_dir + "/{participant_id}" + suffix;
  d.plan.smooth.fwhm = number_text(sizes.fwhm_mm);
  // The demo shows the SVD on the GPU beside smoothing on the CPU cores, as it says it does.
  d.plan.smooth.device = "cpu";
  for (const std::string& id : d.study.participants)
    d.smoothed.push_back(d.smooth_dir + "/" + id + suffix);
  return d;
}

SerialTimes time_serial_equivalent(const DemoSetup& setup, int cores) {
  SerialTimes t;
  t.blas_threads = cores;
  SvdOptions opt;  // [svd]'s defaults: full matrices, U, S and Vh, algorithm auto
  opt.full_matrices = !setup.plan.svd.economy;
  opt.values_only = setup.plan.svd.values_only;
  opt.algorithm = parse_algorithm(setup.plan.svd.algorithm);
  std::vector<SvdSource> sources{random_source(parse_random_spec(setup.plan.svd.random), "")};
  t.svd_seconds = time_serial_loop(sources, opt, cores);

  // Into a scratch directory, so the timed writes cost what the jobs' writes cost.
  const fs::path scratch = fs::path(setup.dir) / ".serial-loop";
  std::error_code ec;
  fs::create_directories(scratch, ec);
  if (ec) throw Error("cannot create " + scratch.string() + ": " + ec.message());
  SmoothOptions o;
  o.fwhm_mm = isotropic(setup.fwhm_mm);
  o.threads = 1;
  for (std::size_t i = 0; i < setup.study.bold_files.size() && !interrupted(); ++i) {
    const std::string out = (scratch / fs::path(setup.smoothed[i]).filename()).string();
    auto t0 = std::chrono::steady_clock::now();
    smooth_file(setup.study.bold_files[i], out, o);
    t.smooth_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fs::remove(out, ec);
  }
  fs::remove_all(scratch, ec);
  return t;
}

SmoothnessCheck check_smoothness(const DemoSetup& setup, int threads) {
  SmoothnessCheck c;
  c.expected_after_mm = std::hypot(setup.study_fwhm_mm, setup.fwhm_mm);
  if (setup.study.bold_files.empty()) return c;
  try {
    c.before_mm = estimate_file(setup.study.bold_files.front(), "", threads).combined_mm;
    c.after_mm = estimate_file(setup.smoothed.front(), "", threads).combined_mm;
  } catch (const Error&) {
    // A missing output is reported by the run itself; the check just has nothing to say.
  }
  return c;
}

}  // namespace tandem::run
