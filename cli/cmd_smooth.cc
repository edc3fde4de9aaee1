// SPDX-License-Identifier: Apache-2.0
// `tandem smooth`: Gaussian smoothing of NIfTI images, nilearn-exact, or their smoothness.
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "backend_registry.h"
#include "command.h"
#include "core/atomic_file.h"
#include "core/cores.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/progress.h"
#include "core/report.h"
#include "smooth/fwhm_spec.h"
#include "smooth/gpu_smoother.h"
#include "smooth/gzip_codec.h"
#include "smooth/output_name.h"
#include "smooth/smooth_job.h"

namespace tandem::cli {

namespace {

namespace fs = std::filesystem;

struct SmoothArgs {
  std::vector<std::string> inputs;
  std::string output, fwhm, to_fwhm, mask, edges = "reflect", datatype = "float32", report;
  std::string device = "auto";
  int threads = 0, compression_level = 1;
  bool estimate = false, quiet = false, time_filter = false;
};

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  if (::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0) {
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  }
  std::error_code ec1, ec2;
  return fs::weakly_canonical(a, ec1) == fs::weakly_canonical(b, ec2);
}

// Output names are matched in any case: x.NII.GZ is written as the .nii.gz it says it is.
bool is_nifti_name(const std::string& p) {
  auto ends = [&](const std::string& s) {
    if (p.size() <= s.size()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(p[p.size() - s.size() + i])) != s[i])
        return false;
    }
    return true;
  };
  return ends(".nii") || ends(".nii.gz");
}

// The output's directory, created when missing (as `tandem svd -o` creates its folder, and as a
// `tandem run` output template such as "smoothed/{}_bold.nii.gz" needs); a directory that cannot
// be made or written fails its item before any work is done.
void prepare_output_dir(const std::string& out_path) {
  fs::path dir = fs::path(out_path).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir)) {
      throw Error(dir.string() + ": cannot create the output directory: " +
                  (ec ? ec.message() : "a file of that name is in the way"));
    }
  }
  if (::access(dir.c_str(), W_OK) != 0)
    throw Error(dir.string() + ": output directory is not writable");
}

nlohmann::json report_item(const SmoothReport& r, const std::string& status,
                           const std::string& msg) {
  nlohmann::json j = {{"input", r.input}, {"output", r.output}, {"status", status}};
  if (!msg.empty()) j["message"] = msg;
  j["device"] = r.device;
  if (!r.device_note.empty()) j["device_note"] = r.device_note;
  if (r.volumes > 0) {
    j["shape"] = {r.shape.nx, r.shape.ny, r.shape.nz, r.volumes};
    j["voxel_mm"] = r.voxel_mm;
    j["sigma_voxels"] = r.sigma_voxels;
    j["nonfinite_zeroed"] = r.nonfinite;
    j["seconds"] = {
        {"read", r.read_seconds}, {"filter", r.filter_seconds}, {"write", r.write_seconds}};
  }
  if (!r.estimates.empty()) {
    nlohmann::json e = nlohmann::json::array();
    for (const auto& s : r.estimates)
      e.push_back({{"fwhm_mm", s.fwhm_mm}, {"combined_mm", s.combined_mm}});
    j["estimates"] = e;
    j["trial_fwhm_mm"] = r.trial_fwhm_mm;
    j["applied_fwhm_mm"] = r.applied_fwhm_mm;
  }
  return j;
}

SmoothOptions make_options(const SmoothArgs& a) {
  SmoothOptions o;
  if (!a.fwhm.empty()) o.fwhm_mm = parse_fwhm(a.fwhm);
  if (!a.to_fwhm.empty()) {
    o.to_fwhm_mm = parse_mm(a.to_fwhm, "--to-fwhm");
    if (o.to_fwhm_mm <= 0) throw UsageError("--to-fwhm: must be > 0");
  }
  o.edges = a.edges == "fsl" ? EdgeMode::kFsl : EdgeMode::kReflect;
  o.mask_path = a.mask;
  o.keep_datatype = a.datatype == "keep";
  o.compression_level = a.compression_level;
  o.threads = a.threads > 0 ? a.threads : available_cores();
  return o;
}

// Whether -o names a directory. A path ending in '/' or an existing directory is one; otherwise
// a name ending in .nii or .nii.gz is a file, a name without an extension a new directory, and
// any other extension (out.img, x.nii.gzz) a mistake: silently making a directory of it would
// hide the typo.
bool output_is_directory(const std::string& out, std::size_t inputs) {
  std::error_code ec;
  if (out.back() == '/' || fs::is_directory(out, ec)) return true;
  const std::string name = fs::path(out).filename().string();
  const bool has_extension = name.find('.', 1) != std::string::npos;
  if (inputs > 1 && (is_nifti_name(out) || has_extension)) {
    throw UsageError("-o " + out + ": " + std::to_string(inputs) +
                     " inputs need an output directory, not one file (end the path with '/' for a "
                     "new directory of that name)");
  }
  if (is_nifti_name(out)) return false;
  if (has_extension) {
    throw UsageError(
        "-o " + out +
        ": an output file must end in .nii or .nii.gz (end the path with '/' for a new "
        "directory of that name)");
  }
  return true;
}

// Output path per input: -o FILE for one input, else DIR/<BIDS name with desc-sm<fwhm>>.
std::vector<std::string> output_paths(const SmoothArgs& a, const SmoothOptions& o) {
  if (!output_is_directory(a.output, a.inputs.size())) return {a.output};
  std::error_code ec;
  fs::create_directories(a.output, ec);  // failure shows up per item, as for svd
  std::string label = o.to_fwhm_mm > 0 ? fwhm_label({o.to_fwhm_mm, o.to_fwhm_mm, o.to_fwhm_mm})
                                       : fwhm_label(o.fwhm_mm);
  std::vector<std::string> out;
  for (const auto& in : a.inputs)
    out.push_back((fs::path(a.output) / smoothed_file_name(in, label)).string());
  return out;
}

// AFNI's -1 for an axis it cannot estimate would read as a number; "n/a" cannot.
std::string estimate_text(double mm) {
  if (mm < 0) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4f", mm);
  return buf;
}

int run_estimate(const SmoothArgs& a, const SmoothOptions& o, ProgressLine& progress) {
  // A warning even under -q: the user asked for a file that will not appear.
  for (const auto& [flag, value] :
       {std::pair<const char*, const std::string&>{"-o", a.output}, {"--report", a.report}}) {
    if (!value.empty())
      std::fprintf(stderr, "tandem: warning: %s is ignored: --estimate writes nothing\n", flag);
  }
  int failed = 0;
  std::printf(
      "# FWHM (mm), classic first-difference estimate: x y z combined (n/a: cannot be estimated "
      "on that axis; combined is over the others)\n");
  for (const auto& in : a.inputs) {
    if (interrupted()) return kExitInterrupted;
    try {
      SmoothnessEstimate e = estimate_file(in, o.mask_path, o.threads);
      std::printf("%s %s %s %s %s\n", in.c_str(), estimate_text(e.fwhm_mm[0]).c_str(),
                  estimate_text(e.fwhm_mm[1]).c_str(), estimate_text(e.fwhm_mm[2]).c_str(),
                  estimate_text(e.combined_mm).c_str());
    } catch (const InterruptedError&) {
      return kExitInterrupted;
    } catch (const std::exception& e) {
      ++failed;
      progress.failure(std::string("tandem: error: ") + e.what());
    }
  }
  return failed ? kExitItemFailed : kExitOk;
}

// The inputs without repeats of one file (overlapping globs, "a.nii ./a.nii"): each is smoothed
// once, in the order first given.
std::vector<std::string> distinct_files(const std::vector<std::string>& inputs) {
  std::vector<std::string> out;
  for (const std::string& in : inputs) {
    bool repeat = false;
    for (const std::string& kept : out) repeat = repeat || same_file(kept, in);
    if (!repeat) out.push_back(in);
  }
  return out;
}

int run_smooth(SmoothArgs a) {
  if (a.inputs.empty()) throw UsageError("smooth: give one or more input images");
  a.inputs = distinct_files(a.inputs);
  int modes = static_cast<int>(!a.fwhm.empty()) + !a.to_fwhm.empty() + a.estimate;
  if (a.time_filter && a.fwhm.empty()) throw UsageError("--time-filter needs --fwhm");
  if (modes != 1) throw UsageError("smooth: give exactly one of --fwhm, --to-fwhm, --estimate");
  SmoothOptions o = make_options(a);
  // One missing or broken mask would fail every image alike: it is the command line that is wrong.
  if (!a.mask.empty()) {
    try {
      check_mask_file(a.mask);
    } catch (const InputError& e) {
      throw UsageError(std::string("--mask ") + e.what());
    }
  }
  ProgressLine progress(stderr, !a.quiet);
  // --estimate filters nothing: only --device gpu (which must find a device) looks for one.
  const DeviceChoice device = parse_device(a.device);
  if (!a.estimate || device == DeviceChoice::kGpu) {
    std::string note;
    o.gpu = make_gpu_smoother(device, &note);
    if (!note.empty()) progress.event("tandem: " + note);
  }
  install_interrupt_handlers();
  if (a.estimate) return run_estimate(a, o, progress);
  if (a.time_filter) {
    for (const auto& in : a.inputs) {
      SmoothReport r = time_filter_only(in, o);
      std::printf("%s: smoothing step %.4f s on %s (%d threads)\n", in.c_str(), r.filter_seconds,
                  r.device.c_str(), o.threads);
    }
    return kExitOk;
  }
  if (a.output.empty()) throw UsageError("smooth: -o OUT (file or directory) is required");
  std::vector<std::string> outputs = output_paths(a, o);
  for (std::size_t i = 0; i < a.inputs.size(); ++i) {
    if (same_file(a.inputs[i], outputs[i])) {
      throw UsageError("smooth: output " + outputs[i] + " is the input file");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (outputs[j] == outputs[i]) {
        throw UsageError("smooth: " + a.inputs[j] + " and " + a.inputs[i] + " would both write " +
                         outputs[i]);
      }
    }
  }
  for (const auto& out : outputs) {
    std::string dir = fs::path(out).parent_path().string();
    remove_stale_temporaries(dir.empty() ? "." : dir);  // from runs that were killed
  }
  std::unique_ptr<ReportWriter> report;
  if (!a.report.empty()) {
    report = std::make_unique<ReportWriter>(
        a.report, nlohmann::json{{"command", "smooth"},
                                 {"fwhm_mm", o.fwhm_mm},
                                 {"to_fwhm_mm", o.to_fwhm_mm},
                                 {"edges", a.edges},
                                 {"mask", a.mask},
                                 {"datatype", a.datatype},
                                 {"compression_level", o.compression_level},
                                 {"gzip", gzip_backend_name()},
                                 {"threads", o.threads},
                                 {"device", o.gpu ? o.gpu->name() : "cpu"}});
  }
  auto t0 = std::chrono::steady_clock::now();
  int done = 0, failed = 0;
  bool stopped = false, on_cpu = false, on_gpu = false;  // where the done images were smoothed
  std::size_t started = 0;
  for (std::size_t i = 0; i < a.inputs.size() && !stopped; ++i, ++started) {
    SmoothReport r;
    r.input = a.inputs[i];
    r.output = outputs[i];
    try {
      prepare_output_dir(outputs[i]);
      try {
        r = smooth_file(a.inputs[i], outputs[i], o);
      } catch (const CudaError& e) {
        // Under auto the GPU is an accelerator, not a requirement: a device failure on one image
        // redoes that image on the CPU (nothing of the failed attempt was given the output name).
        if (!o.gpu || device != DeviceChoice::kAuto) throw;
        SmoothOptions cpu = o;
        cpu.gpu = nullptr;
        r = smooth_file(a.inputs[i], outputs[i], cpu);
        r.device_note = std::string("the GPU failed (") + e.what() + ")";
      }
      ++done;
      (r.device == "cpu" ? on_cpu : on_gpu) = true;
      if (!r.device_note.empty())
        progress.event("tandem: " + r.input + ": smoothed on the CPU: " + r.device_note);
      if (r.nonfinite)
        progress.event("tandem: " + r.input + ": " + std::to_string(r.nonfinite) +
                       " NaN/Inf values set to 0");
      progress.event("[" + std::to_string(i + 1) + "/" + std::to_string(a.inputs.size()) +
                     "] wrote " + r.output);
      if (report) report->add_item(report_item(r, "ok", ""));
    } catch (const InterruptedError&) {
      stopped = true;
      if (report) report->add_item(report_item(r, "interrupted", "interrupted"));
    } catch (const std::exception& e) {
      ++failed;
      // Input errors name their file already; every other failure (a device failure, a full
      // disk, an output directory that cannot be made) is named after the image it hit, input
      // first as the input errors are.
      if (o.gpu && dynamic_cast<const CudaError*>(&e)) r.device = o.gpu->name();
      const std::string why =
          dynamic_cast<const InputError*>(&e) ? e.what() : r.input + ": " + e.what();
      progress.failure("tandem: error: " + why);
      if (report) report->add_item(report_item(r, "failed", why));
    }
  }
  // Every input has a record: those an interruption kept from starting say so.
  for (std::size_t i = started; report && i < a.inputs.size(); ++i) {
    SmoothReport r;
    r.input = a.inputs[i];
    r.output = outputs[i];
    report->add_item(report_item(r, "not_started", "interrupted before it started"));
  }
  progress.finish();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!a.quiet) {
    std::string device_name = "the CPU";
    if (o.gpu && !on_cpu) device_name = o.gpu->name();
    if (o.gpu && on_cpu && on_gpu) device_name = o.gpu->name() + " and the CPU";
    std::printf("smooth: %s: %d done, %d failed in %.2f s on %s (%d threads, gzip %s)\n",
                counted(static_cast<long long>(a.inputs.size()), "image", "images").c_str(), done,
                failed, secs, device_name.c_str(), o.threads, gzip_backend_name());
  }
  if (report) {
    report->finish({{"total", a.inputs.size()},
                    {"done", done},
                    {"failed", failed},
                    {"seconds", secs},
                    {"interrupted", stopped}});
  }
  if (stopped) {
    std::fprintf(stderr, "tandem: interrupted\n");
    return kExitInterrupted;
  }
  return failed ? kExitItemFailed : kExitOk;
}

std::function<int()> setup_smooth(CLI::App& sub) {
  auto a = std::make_shared<SmoothArgs>();
  sub.add_option("inputs", a->inputs, "NIfTI images (.nii or .nii.gz), 3-D or 4-D");
  sub.add_option(
      "-o,--output", a->output,
      "Output .nii/.nii.gz (any case) for one input, or a directory (each input's name with "
      "desc-sm<fwhm>: before a BIDS suffix, replacing its desc, else at the end): a path ending "
      "in '/', an existing directory or a name without extension. Missing directories are "
      "created");
  sub.add_option("--fwhm", a->fwhm, "FWHM in mm: one value, or x,y,z (0 skips an axis)");
  sub.add_option(
      "--to-fwhm", a->to_fwhm,
      "Blur until the classic smoothness estimate reaches this FWHM in mm (3dBlurToFWHM)");
  sub.add_flag("--estimate", a->estimate,
               "Print each image's smoothness in mm: x y z combined (3dFWHMx "
               "-ShowMeClassicFWHM); n/a on an axis that cannot be estimated (constant data, a "
               "single slice). Writes nothing");
  sub.add_flag("--time-filter", a->time_filter,
               "Benchmark: time the smoothing step alone on the decoded inputs; write nothing");
  sub.add_option("--mask", a->mask, "Smooth inside this mask only: (img·M)⊛G / (M⊛G), 0 outside");
  sub.add_option("--edges", a->edges, "reflect (scipy/nilearn, default) or fsl (renormalised)")
      ->check(CLI::IsMember({"reflect", "fsl"}));
  sub.add_option("--datatype", a->datatype, "float32 (default, as nilearn) or keep (the input's)")
      ->check(CLI::IsMember({"float32", "keep"}));
  sub.add_option("--compression-level", a->compression_level,
                 "gzip level 0-9 for .nii.gz (default 1)")
      ->check(CLI::Range(0, 9));
  sub.add_option("--device", a->device,
                 "auto (GPU when usable), cpu or gpu (error without one); same bits either way. "
                 "--edges fsl and --estimate always run on the CPU")
      ->check(CLI::IsMember({"auto", "cpu", "gpu"}));
  sub.add_option("-j,--threads", a->threads, "Threads (default: usable cores)")
      ->check(whole_number_at_least(1));
  sub.add_option("--report", a->report, "Write a JSON report with one record per image");
  sub.add_flag("-q,--quiet", a->quiet, "Print only failures");
  return [a] { return run_smooth(*a); };
}

}  // namespace

TANDEM_REGISTER_COMMAND(40, "smooth",
                        "Gaussian smoothing of NIfTI images, bit-identical to nilearn's smooth_img",
                        setup_smooth);

}  // namespace tandem::cli
