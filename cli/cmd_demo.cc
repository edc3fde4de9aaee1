// SPDX-License-Identifier: Apache-2.0
// `tandem demo`: makes the toy SVD batch and a small fMRI study, runs them as one plan, and
// compares with a serial loop of the same work timed right here.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "command.h"
#include "core/cores.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/progress.h"
#include "core/self_exe.h"
#include "map_output.h"
#include "run/demo.h"
#include "run/runner.h"
#include "svd_output.h"

namespace tandem::cli {

namespace {

namespace fs = std::filesystem;

struct DemoArgs {
  std::string dir;
  int cores = 0;
  bool quick = false, quiet = false;
};

// The demo's directory: --dir (kept), or a fresh temporary one removed on the way out.
class DemoDir {
 public:
  explicit DemoDir(const std::string& given) : path_(given), keep_(!given.empty()) {
    if (keep_) return;
    std::string tmpl = (fs::temp_directory_path() / "tandem-demo-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw Error("cannot create a temporary directory: " + tmpl);
    path_ = tmpl;
  }
  ~DemoDir() {
    std::error_code ec;
    if (!keep_) fs::remove_all(path_, ec);
  }
  DemoDir(const DemoDir&) = delete;
  DemoDir& operator=(const DemoDir&) = delete;
  const std::string& path() const { return path_; }
  bool kept() const { return keep_; }

 private:
  std::string path_;
  bool keep_;
};

double ratio(double serial, double parallel) { return parallel > 0 ? serial / parallel : 0.0; }

void print_made(const run::DemoSizes& s, double seconds) {
  const run::StudySpec& st = s.study;
  std::printf(
      "demo: data: %s random float64 matrices (np.random.rand's kind, made as the SVD reads "
      "them)\n",
      s.svd_random.c_str());
  std::printf(
      "demo: data: %d subjects of %lldx%lldx%lldx%lld float32, noise of FWHM %g mm, "
      "%g mm voxels (%.1f s)\n",
      st.subjects, static_cast<long long>(st.shape.nx), static_cast<long long>(st.shape.ny),
      static_cast<long long>(st.shape.nz), static_cast<long long>(st.volumes), st.fwhm_mm,
      st.voxel_mm, seconds);
}

// What ran where and how long each half took in the concurrent run.
void print_run(const run::DemoSetup& d, const run::RunOutcome& o) {
  std::printf("ran:  svd on %s: %lld matrices in %.2f s\n", o.svd_backend.c_str(),
              static_cast<long long>(o.svd.done), o.svd.seconds);
  if (!o.svd_note.empty()) std::printf("      (no GPU: %s)\n", o.svd_note.c_str());
  std::size_t ok = 0;
  for (const auto& run : o.job_runs) {
    for (const auto& r : run.results) ok += r.outcome == jobs::Outcome::kOk;
  }
  std::printf(
      "ran:  smooth (FWHM %g mm) on the CPU, one `tandem smooth -j 1` per subject: "
      "%zu subjects in %.2f s\n",
      d.fwhm_mm, ok, o.jobs_seconds);
  std::printf("ran:  both at once under one budget of %d cores: wall %.2f s\n", o.cores,
              o.wall_seconds);
}

void print_serial(const run::RunOutcome& o, const run::SerialTimes& s) {
  const double serial = s.svd_seconds + s.smooth_seconds;
  std::printf(
      "serial loop, same work: svd %.2f s (one matrix at a time, BLAS on %d thread%s) + "
      "smooth %.2f s (one subject at a time) = %.2f s\n",
      s.svd_seconds, s.blas_threads, s.blas_threads == 1 ? "" : "s", s.smooth_seconds, serial);
  std::printf(
      "speedup: %.2fx overall (svd %.2fx, smooth %.2fx: each half timed while sharing the "
      "cores with the other)\n",
      ratio(serial, o.wall_seconds), ratio(s.svd_seconds, o.svd.seconds),
      ratio(s.smooth_seconds, o.jobs_seconds));
}

void print_outputs(const run::DemoSetup& d, const run::SmoothnessCheck& c, bool kept) {
  if (c.before_mm > 0 && c.after_mm > 0) {
    std::printf(
        "check: %s smoothness (AFNI's classic estimate): %.1f mm as made with noise of FWHM "
        "%g mm, %.1f mm smoothed (expected about %.1f mm)\n",
        d.study.participants.front().c_str(), c.before_mm, d.study_fwhm_mm, c.after_mm,
        c.expected_after_mm);
  }
  std::printf("outputs: %s (U, S, Vh)\n", d.svd_output.c_str());
  std::printf("outputs: %s/ (%zu smoothed series)\n", d.smooth_dir.c_str(), d.smoothed.size());
  if (!kept) std::printf("(a temporary directory, removed now; run with --dir DIR to keep it)\n");
}

int run_demo(const DemoArgs& a) {
  const int cores = a.cores > 0 ? a.cores : available_cores();
  install_interrupt_handlers();
  ProgressLine line(stderr, !a.quiet);
  const std::string warning = run::cores_warning(a.cores, available_cores());
  if (!warning.empty()) line.event("tandem: warning: " + warning);
  DemoDir dir(a.dir);
  const run::DemoSizes sizes = run::demo_sizes(a.quick);
  line.status("demo: writing the study to " + dir.path());
  const auto t0 = std::chrono::steady_clock::now();
  const run::DemoSetup setup = run::prepare_demo(dir.path(), sizes, cores);
  const double made = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  line.finish();
  print_made(sizes, made);

  CliObserver svd_observer(line, nullptr, "svd ");
  MapPrinter job_printer(line, setup.study.participants.size());
  // Never resume: with --dir given twice, the outputs of the first run exist, and skipping them
  // would compare the serial loop's full work with a run that did less.
  run::RunSettings settings{a.cores, false, self_executable()};
  const run::RunOutcome o =
      run::run_plan(setup.plan, settings, svd_observer,
                    [&](const std::string&, const jobs::MapPlan&) { return &job_printer; });
  svd_observer.print_repeats();
  line.finish();
  if (o.interrupted) {
    std::fprintf(stderr, "tandem: interrupted\n");
    return kExitInterrupted;
  }
  print_run(setup, o);
  if (o.any_failed()) {
    if (!o.svd_error.empty()) line.failure("svd: could not run: " + o.svd_error);
    for (std::size_t i = 0; i < o.job_runs.size(); ++i) {
      print_map_summary(line, o.job_names[i], o.job_runs[i], true);
    }
    return kExitItemFailed;
  }

  line.status("demo: timing a serial loop of the same work");
  const run::SerialTimes serial = run::time_serial_equivalent(setup, o.cores);
  line.finish();
  if (interrupted()) {
    std::fprintf(stderr, "tandem: interrupted\n");
    return kExitInterrupted;
  }
  print_serial(o, serial);
  print_outputs(setup, run::check_smoothness(setup, cores), dir.kept());
  return kExitOk;
}

std::function<int()> setup_demo(CLI::App& sub) {
  auto a = std::make_shared<DemoArgs>();
  sub.add_option("--dir", a->dir,
                 "Make the data and outputs here and keep them (default: a temporary directory)");
  sub.add_flag("--quick", a->quick,
               "A small demo that runs in seconds (4x300x300 SVD, 2 small subjects)");
  sub.add_option("--cores", a->cores,
                 "Core budget for SVD workers and jobs together (default: usable cores)")
      ->check(whole_number_at_least(1));
  sub.add_flag("-q,--quiet", a->quiet, "Print only failures and the summary");
  return [a] { return run_demo(*a); };
}

}  // namespace

TANDEM_REGISTER_COMMAND(
    60, "demo",
    "Make toy SVD data and a small fMRI study, run both at once, compare with a serial loop",
    setup_demo);

}  // namespace tandem::cli
