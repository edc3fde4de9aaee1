// SPDX-License-Identifier: Apache-2.0
// `tandem svd`: batched SVD of .npy/.npz matrices (or --random data) on the CPU or GPU.
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
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
#include "core/shard.h"
#include "jobs/resources.h"
#include "svd/scheduler.h"
#include "svd/serial_baseline.h"
#include "svd_output.h"

namespace tandem::cli {

namespace {

struct SvdArgs {
  std::vector<std::string> inputs;
  std::string outdir, random, device = "auto", algorithm = "auto", report, gpus, shard;
  bool shard_given = false;
  bool economy = false, values_only = false, check = false, resume = false, quiet = false;
  bool canonical_signs = false, compare_serial = false;
  int threads = 0;
};

std::vector<int> parse_gpu_list(const std::string& text) {
  std::vector<int> out;
  std::size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    std::size_t comma = text.find(',', start);
    std::string part = text.substr(start, comma - start);
    if (part.empty() || part.size() > 6 ||
        part.find_first_not_of("0123456789") != std::string::npos) {
      throw UsageError("--gpus: '" + text + "' is not a comma-separated list of device numbers");
    }
    out.push_back(std::stoi(part));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Temporaries of killed runs. Under --shard other machines may be writing into the same
// directory, and their process IDs mean nothing here: only this shard's outputs are cleaned.
void remove_stale_temporaries_here(const std::vector<SvdSource>& sources, const std::string& outdir,
                                   bool sharded) {
  if (!sharded) {
    remove_stale_temporaries(outdir);
    return;
  }
  std::vector<std::string> outputs;
  for (const SvdSource& s : sources) outputs.push_back(s.output);
  remove_stale_temporaries_of(outputs);
}

int run_svd(const SvdArgs& a) {
  if (a.inputs.empty() && a.random.empty()) throw UsageError("svd: give INPUT files or --random");
  // Both at once would mix test data into a real run's outputs (and its random.npz could be an
  // input's output).
  if (!a.inputs.empty() && !a.random.empty()) {
    throw UsageError("svd: give INPUT files or --random, not both");
  }
  if (!a.inputs.empty() && a.outdir.empty()) throw UsageError("svd: -o OUTDIR is required");
  if (a.values_only && a.canonical_signs) {
    throw UsageError("--canonical-signs needs singular vectors, not --values-only");
  }
  if (a.values_only && a.check) {
    throw UsageError("--check measures U and Vh, which --values-only does not compute");
  }
  SvdRunOptions run;
  run.svd.full_matrices = !a.economy;
  run.svd.values_only = a.values_only;
  run.svd.check = a.check;
  run.svd.canonical_signs = a.canonical_signs;
  run.svd.algorithm = parse_algorithm(a.algorithm);
  run.resume = a.resume;
  run.memory_bytes = jobs::memory_available();
  std::optional<Shard> shard;
  if (a.shard_given) shard = parse_shard(a.shard);
  std::vector<SvdSource> sources = expand_inputs(a.inputs, a.outdir);
  if (!a.random.empty()) sources.push_back(random_source(parse_random_spec(a.random), a.outdir));
  std::string scope;  // "shard K/N: X of Y input files: " in the summary
  if (shard) {
    ShardSelection part = select_shard(std::move(sources), *shard);
    sources = std::move(part.sources);
    scope = "shard " + shard_label(*shard) + ": " + std::to_string(part.files) + " of " +
            counted(static_cast<long long>(part.total_files), "input file", "input files") + ": ";
  }

  BackendConfig cfg{parse_device(a.device), a.threads, parse_gpu_list(a.gpus)};
  std::string note;
  std::shared_ptr<Backend> backend = make_backend(cfg, &note);
  ProgressLine progress(stderr, !a.quiet);
  if (!note.empty()) progress.event("tandem: " + note);
  if (!a.outdir.empty()) remove_stale_temporaries_here(sources, a.outdir, shard.has_value());

  std::unique_ptr<ReportWriter> report;
  if (!a.report.empty()) {
    nlohmann::json head{{"command", "svd"},
                        {"backend", backend->name()},
                        {"full_matrices", !a.economy},
                        {"values_only", a.values_only}};
    if (shard) head["shard"] = {{"index", shard->index}, {"count", shard->count}};
    report =
        std::make_unique<ReportWriter>(substitute_shard(a.report, shard.value_or(Shard{})), head);
  }
  install_interrupt_handlers();
  CliObserver observer(progress, report.get());
  SvdRunStats st = run_svd_pipeline(sources, *backend, run, observer);
  observer.print_repeats();
  progress.finish();

  const double rate = st.seconds > 0 ? static_cast<double>(st.done) / st.seconds : 0;
  std::printf(
      "svd: %s%s: %lld done, %lld failed, %lld skipped in %.2f s (%.3g matrices/s) "
      "on %s\n",
      scope.c_str(), counted(st.total + st.skipped, "matrix", "matrices").c_str(),
      static_cast<long long>(st.done), static_cast<long long>(st.failed),
      static_cast<long long>(st.skipped), st.seconds, rate, backend->name().c_str());
  if (!a.outdir.empty())
    std::printf("outputs: %s (%s written)\n", a.outdir.c_str(),
                counted(observer.outputs(), "file", "files").c_str());
  bool report_failed = observer.report_failed();
  if (report && !report_failed) {
    if (st.interrupted) observer.report_unwritten(sources);
    try {
      report->finish({{"total", st.total + st.skipped},
                      {"done", st.done},
                      {"failed", st.failed},
                      {"skipped", st.skipped},
                      {"outputs", observer.outputs()},
                      {"seconds", st.seconds},
                      {"interrupted", st.interrupted}});
    } catch (const Error& e) {  // the summary is printed; the exit code must say it failed
      std::fprintf(stderr, "tandem: error: the report is not written: %s\n", e.what());
      report_failed = true;
    }
    report_failed = report_failed || observer.report_failed();
  }
  if (st.interrupted) {
    std::fprintf(stderr,
                 "tandem: interrupted; finished outputs are kept, run again with --resume\n");
    return kExitInterrupted;
  }
  if (a.compare_serial && st.failed == 0) {
    const int cores = available_cores();
    double serial = time_serial_loop(sources, run.svd, cores);
    const double speedup = st.seconds > 0 ? serial / st.seconds : 0.0;
    std::printf(
        "serial loop (one matrix at a time, BLAS on %d thread%s): %.2f s; tandem is %.2fx %s\n",
        cores, cores == 1 ? "" : "s", serial, speedup >= 1 || speedup <= 0 ? speedup : 1 / speedup,
        speedup >= 1 ? "faster" : "slower");
  }
  return st.failed > 0 || report_failed ? kExitItemFailed : kExitOk;
}

std::function<int()> setup_svd(CLI::App& sub) {
  auto a = std::make_shared<SvdArgs>();
  sub.add_option("inputs", a->inputs, ".npy/.npz files, directories or quoted globs");
  sub.add_option("-o,--output", a->outdir, "Output directory: <stem>.npz with U, S, Vh per input");
  sub.add_option("--random", a->random,
                 "Random uniform [0,1) input BxMxN[:float32|float64][:seed=S], as np.random.rand");
  sub.add_flag(
      "--economy,!--full-matrices", a->economy,
      "U is m×k and Vh k×n (k = min(m, n)); default --full-matrices: m×m and n×n, as numpy");
  sub.add_flag("--values-only", a->values_only, "Only singular values S (faster)");
  sub.add_option("--device", a->device, "auto (GPU when present), cpu or gpu")
      ->check(CLI::IsMember({"auto", "cpu", "gpu"}));
  sub.add_option("--algorithm", a->algorithm, "GPU route: auto, jacobi, polar, qr or gram")
      ->check(CLI::IsMember({"auto", "jacobi", "polar", "qr", "gram"}));
  sub.add_option("--gpus", a->gpus, "GPU ordinals to use, e.g. 0,1 (default: all visible)");
  sub.add_option("-j,--threads", a->threads, "CPU worker threads (default: usable cores)")
      ->check(whole_number_at_least(1));
  sub.add_flag("--check", a->check, "Report residual and orthogonality per matrix");
  sub.add_flag(
      "--canonical-signs", a->canonical_signs,
      "Flip signs so each U column's largest-magnitude entry is positive (sklearn svd_flip)");
  sub.add_option("--report", a->report,
                 "Write a JSON report with one record per matrix ({shard} becomes K-of-N)");
  CLI::Option* shard = sub.add_option(
      "--shard", a->shard,
      "K/N or slurm: only shard K of N, the input files i (from 0, in input order) with "
      "i mod N = K-1; slurm takes K and N from SLURM_ARRAY_TASK_ID/_MIN/_COUNT");
  sub.add_flag("--resume", a->resume, "Skip inputs whose output is already complete");
  sub.add_flag("-q,--quiet", a->quiet, "Print only failures and the summary");
  sub.add_flag("--compare-serial", a->compare_serial,
               "Also time a serial loop of the same work and print the speedup");
  return [a, shard] {
    a->shard_given = shard->count() > 0;
    return run_svd(*a);
  };
}

}  // namespace

TANDEM_REGISTER_COMMAND(
    10, "svd",
    "Batched SVD of .npy/.npz matrices (numpy's np.linalg.svd, on every core or the GPU)",
    setup_svd);

}  // namespace tandem::cli
