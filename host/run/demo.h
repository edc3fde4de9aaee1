// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <vector>

#include "run/demo_data.h"
#include "run/plan.h"

namespace tandem::run {

/// How much work `tandem demo` makes.
struct DemoSizes {
  std::string svd_random = "20x1000x1000";  ///< the seed notebook's toy data, float64
  StudySpec study;                          ///< the synthetic fMRI study
  double fwhm_mm = 6.0;                     ///< smoothing applied by the plan's [smooth]
};

/// The full demo (the seed's 20 random 1000×1000 matrices, 8 subjects of 64×64×32×60), or with
/// `quick` a small one that runs in seconds (4×300×300, 2 subjects of 32×32×16×10).
DemoSizes demo_sizes(bool quick);

/// The data and the plan that prepare_demo() made.
struct DemoSetup {
  std::string dir;                    ///< everything lives under here
  Study study;                        ///< the subjects' BOLD series and participants.tsv
  Plan plan;                          ///< [svd] on the random batch, [smooth] on every subject
  std::string svd_output_dir;         ///< DIR/svd (random.npz: U, S, Vh)
  std::string svd_output;             ///< DIR/svd/random.npz
  std::string smooth_dir;             ///< DIR/derivatives/smooth
  std::vector<std::string> smoothed;  ///< one output per subject, in participant order
  double fwhm_mm = 0;                 ///< the plan's smoothing FWHM
  double study_fwhm_mm = 0;           ///< the smoothness the study was written with
};

/// Writes the study under `dir` (`threads` threads) and builds the plan: [svd] with `random` =
/// sizes.svd_random and output DIR/svd; [smooth] over participants.tsv with templates
/// DIR/{participant_id}/func/{participant_id}_task-rest_bold.nii.gz →
/// DIR/derivatives/smooth/{participant_id}_task-rest_desc-sm<fwhm>_bold.nii.gz.
DemoSetup prepare_demo(const std::string& dir, const DemoSizes& sizes, int threads);

/// The plan's work done the plain way, each half timed on its own (seconds).
struct SerialTimes {
  double svd_seconds = 0;     ///< one matrix after another, BLAS on `cores` threads, compute only
  double smooth_seconds = 0;  ///< one subject after another on one thread: read, smooth, write
  int blas_threads = 0;       ///< the BLAS threads the SVD loop used
};

/// Times the serial equivalent of `setup`'s plan right here: the SVDs as the seed's numpy loop does
/// them (time_serial_loop, BLAS on `cores` threads), and every subject smoothed in turn by the same
/// library call `tandem smooth -j 1` makes, into a scratch directory removed afterwards. Stops
/// early (returning what was timed) when interrupted().
SerialTimes time_serial_equivalent(const DemoSetup& setup, int cores);

/// Smoothness (AFNI's classic estimate, combined over axes, mm) of the first subject's input and
/// output; -1 for either that cannot be read or estimated.
struct SmoothnessCheck {
  double before_mm = -1;
  double after_mm = -1;
  double expected_after_mm = -1;  ///< sqrt(study² + fwhm²): Gaussian widths add in quadrature
};

/// Estimates SmoothnessCheck on the first subject, on `threads` threads.
SmoothnessCheck check_smoothness(const DemoSetup& setup, int threads);

}  // namespace tandem::run
