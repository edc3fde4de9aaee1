// SPDX-License-Identifier: Apache-2.0
// `tandem smooth`: Gaussian smoothing of NIfTI images, nilearn-exact, or their smoothness.
#include <sys/stat.h>
#include <unistd.h>

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
#include "smooth/gpu_smoother.h"
#include "smooth/gzip_codec.h"
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

double parse_mm(const std::string& text, const std::string& flag) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v) || v < 0) {
    throw UsageError(flag + ": '" + text + "' is not a non-negative number of mm");
  }
  return v;
}

std::array<double, 3> parse_fwhm(const std::string& text) {
  std::vector<double> v;
  std::size_t start = 0;
  for (;;) {
    std::size_t comma = text.find(',', start);
    v.push_back(parse_mm(text.substr(start, comma - start), "--fwhm"));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (v.size() == 1) v = {v[0], v[0], v[0]};
  if (v.size() != 3)
    throw UsageError("--fwhm: give one value or three (x,y,z), not '" + text + "'");
  if (v[0] <= 0 && v[1] <= 0 && v[2] <= 0) throw UsageError("--fwhm: must be > 0 on some axis");
  return {v[0], v[1], v[2]};
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  if (::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0) {
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  }
  std::error_code ec1, ec2;
  return fs::weakly_canonical(a, ec1) == fs::weakly_canonical(b, ec2);
}

bool is_nifti_name(const std::string& p) {
  auto ends = [&](const std::string& s) {
    return p.size() > s.size() && p.compare(p.size() - s.size(), s.size(), s) == 0;
  };
  return ends(".nii") || ends(".nii.gz");
}

// A directory that cannot take our temporary file fails its items before any work is done.
void check_output_dir(const std::string& out_path) {
  fs::path dir = fs::path(out_path).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("output directory does not exist: " + dir.string());
  if (::access(dir.c_str(), W_OK) != 0)
    throw Error("output directory is not writable: " + dir.string());
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
    j["blur_steps_mm"] = r.blur_steps_mm;
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

// Output path per input: -o FILE for one input, else DIR/<BIDS name with desc-sm<fwhm>>.
std::vector<std::string> output_paths(const SmoothArgs& a, const SmoothOptions& o) {
  std::error_code ec;
  bool dir_mode = a.inputs.size() > 1 || fs::is_directory(a.output, ec) || a.output.back() == '/' ||
                  !is_nifti_name(a.output);
  if (!dir_mode) return {a.output};
  if (a.inputs.size() == 1 && !fs::exists(a.output, ec) && a.output.back() != '/' &&
      a.output.find(".nii") != std::string::npos) {
    throw UsageError("-o " + a.output + ": an output file must end in .nii or .nii.gz");
  }
  // Several inputs go into a directory; a new one named like an image is a typo for a file.
  if (a.inputs.size() > 1 && !fs::is_directory(a.output, ec) && is_nifti_name(a.output)) {
    throw UsageError("-o " + a.output + ": " + std::to_string(a.inputs.size()) +
                     " inputs need an output directory, not one file");
  }
  fs::create_directories(a.output, ec);  // failure shows up per item, as for svd
  std::string label = o.to_fwhm_mm > 0 ? fwhm_label({o.to_fwhm_mm, o.to_fwhm_mm, o.to_fwhm_mm})
                                       : fwhm_label(o.fwhm_mm);
  std::vector<std::string> out;
  for (const auto& in : a.inputs)
    out.push_back((fs::path(a.output) / smoothed_file_name(in, label)).string());
  return out;
}

int run_estimate(const SmoothArgs& a, const SmoothOptions& o, ProgressLine& progress) {
  int failed = 0;
  std::printf("# FWHM (mm), classic first-difference estimate: x y z combined\n");
  for (const auto& in : a.inputs) {
    if (interrupted()) return kExitInterrupted;
    try {
      SmoothnessEstimate e = estimate_file(in, o.mask_path, o.threads);
      std::printf("%s %.4f %.4f %.4f %.4f\n", in.c_str(), e.fwhm_mm[0], e.fwhm_mm[1], e.fwhm_mm[2],
                  e.combined_mm);
    } catch (const InterruptedError&) {
      return kExitInterrupted;
    } catch (const std::exception& e) {
      ++failed;
      progress.failure(std::string("tandem: error: ") + e.what());
    }
  }
  return failed ? kExitItemFailed : kExitOk;
}

int run_smooth(const SmoothArgs& a) {
  if (a.inputs.empty()) throw UsageError("smooth: give one or more input images");
  int modes = static_cast<int>(!a.fwhm.empty()) + !a.to_fwhm.empty() + a.estimate;
  if (a.time_filter && a.fwhm.empty()) throw UsageError("--time-filter needs --fwhm");
  if (modes != 1) throw UsageError("smooth: give exactly one of --fwhm, --to-fwhm, --estimate");
  SmoothOptions o = make_options(a);
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
  for (std::size_t i = 0; i < a.inputs.size() && !stopped; ++i) {
    SmoothReport r;
    r.input = a.inputs[i];
    r.output = outputs[i];
    try {
      check_output_dir(outputs[i]);
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
      // Input errors name their file already; a device failure is named after the image it hit.
      const bool device_failed = o.gpu && dynamic_cast<const CudaError*>(&e);
      if (device_failed) r.device = o.gpu->name();
      const std::string why = device_failed ? r.input + ": " + e.what() : e.what();
      progress.failure("tandem: error: " + why);
      if (report) report->add_item(report_item(r, "failed", why));
    }
  }
  progress.finish();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!a.quiet) {
    std::string device_name = "the CPU";
    if (o.gpu && !on_cpu) device_name = o.gpu->name();
    if (o.gpu && on_cpu && on_gpu) device_name = o.gpu->name() + " and the CPU";
    std::printf("smooth: %zu images: %d done, %d failed in %.2f s on %s (%d threads, gzip %s)\n",
                a.inputs.size(), done, failed, secs, device_name.c_str(), o.threads,
                gzip_backend_name());
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
      "Output .nii/.nii.gz for one input, or a directory (BIDS names with desc-sm<fwhm>)");
  sub.add_option("--fwhm", a->fwhm, "FWHM in mm: one value, or x,y,z (0 skips an axis)");
  sub.add_option(
      "--to-fwhm", a->to_fwhm,
      "Blur until the classic smoothness estimate reaches this FWHM in mm (3dBlurToFWHM)");
  sub.add_flag("--estimate", a->estimate,
               "Print each image's smoothness per axis (3dFWHMx -ShowMeClassicFWHM) and exit");
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
      ->check(CLI::PositiveNumber);
  sub.add_option("--report", a->report, "Write a JSON report with one record per image");
  sub.add_flag("-q,--quiet", a->quiet, "Print only failures");
  return [a] { return run_smooth(*a); };
}

}  // namespace

TANDEM_REGISTER_COMMAND(40, "smooth",
                        "Gaussian smoothing of NIfTI images, bit-identical to nilearn's smooth_img",
                        setup_smooth);

}  // namespace tandem::cli
