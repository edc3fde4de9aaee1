// SPDX-License-Identifier: Apache-2.0
// Times CudaBackend::svd on random matrices held in host memory (what the CLI hands the
// backend) and prints one JSON object: per-repetition seconds, routes and LAPACK test ratios.
// Usage: svd_gpu_driver --batch B --m M --n N [--dtype f32|f64] [--economy] [--values-only]
//        [--algorithm auto|jacobi|polar|qr|gram] [--reps R] [--warmup W] [--check C]
//        [--streams K] [--small-kernel] [--spin] [--chunk C]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "cuda_backend.h"
#include "driver_args.h"
#include "svd/check.h"
#include "svd/cpu_backend.h"

namespace {

struct Args {
  int batch = 20, m = 1000, n = 1000, reps = 5, warmup = 1, check = 4, streams = 10, chunk = 0;
  bool f32 = false, economy = false, values_only = false, small_kernel = false, spin = false;
  std::string algorithm = "auto";
};

Args parse(int argc, char** argv) {
  Args a;
  tandem::bench::for_each_option(argc, argv, [&a](const std::string& k, auto value) {
    if (k == "--batch")
      a.batch = std::stoi(value());
    else if (k == "--m")
      a.m = std::stoi(value());
    else if (k == "--n")
      a.n = std::stoi(value());
    else if (k == "--reps")
      a.reps = std::stoi(value());
    else if (k == "--warmup")
      a.warmup = std::stoi(value());
    else if (k == "--check")
      a.check = std::stoi(value());
    else if (k == "--streams")
      a.streams = std::stoi(value());
    else if (k == "--dtype")
      a.f32 = value() == "f32";
    else if (k == "--algorithm")
      a.algorithm = value();
    else if (k == "--economy")
      a.economy = true;
    else if (k == "--values-only")
      a.values_only = true;
    else if (k == "--small-kernel")
      a.small_kernel = true;
    else if (k == "--spin")
      a.spin = true;
    else if (k == "--chunk")
      a.chunk = std::stoi(value());
    else
      return false;
    return true;
  });
  return a;
}

// Owns the inputs and outputs of the whole batch, in either precision.
template <typename T>
struct Buffers {
  std::vector<T> a, u, s, vh;
  std::vector<tandem::SvdTask> tasks;
  Buffers(const Args& g, const tandem::SvdOptions& opt, tandem::DType dt) {
    const tandem::SvdShape sh{g.m, g.n};
    const std::size_t ea = std::size_t(g.m) * g.n, eu = sh.u_elems(opt), ev = sh.vh_elems(opt);
    a.resize(ea * g.batch);
    u.resize(std::max<std::size_t>(1, eu * g.batch));
    s.resize(std::size_t(sh.k()) * g.batch);
    vh.resize(std::max<std::size_t>(1, ev * g.batch));
    std::mt19937_64 gen(42);
    std::uniform_real_distribution<double> dist(0.0, 1.0);
    for (auto& x : a) x = T(dist(gen));
    for (int b = 0; b < g.batch; ++b) {
      tandem::SvdTask t;
      t.dtype = dt;
      t.shape = sh;
      t.a = a.data() + b * ea;
      t.u = u.data() + (eu ? b * eu : 0);
      t.s = s.data() + b * sh.k();
      t.vh = vh.data() + (ev ? b * ev : 0);
      tasks.push_back(t);
    }
  }
};

template <typename T>
nlohmann::json run(const Args& g, tandem::Backend& backend, tandem::DType dt) {
  tandem::SvdOptions opt;
  opt.full_matrices = !g.economy;
  opt.values_only = g.values_only;
  opt.algorithm = tandem::parse_algorithm(g.algorithm);
  Buffers<T> buf(g, opt, dt);
  std::vector<double> times;
  std::vector<tandem::ItemResult> results;
  for (int r = 0; r < g.warmup + g.reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    results = backend.svd(buf.tasks, opt);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r >= g.warmup) times.push_back(s);
  }
  nlohmann::json out;
  out["times_s"] = times;
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  out["median_s"] = sorted.empty() ? 0.0 : sorted[sorted.size() / 2];
  std::map<std::string, int> routes;
  int failed = 0;
  std::string message;
  for (const auto& r : results) {
    routes[r.route]++;
    failed += r.status != tandem::ItemStatus::kOk;
    if (message.empty() && !r.message.empty()) message = r.message;
  }
  out["routes"] = routes;
  out["failed"] = failed;
  out["first_message"] = message;
  double res = 0, orth = 0, rel = 0;
  const int checks = g.values_only ? 0 : std::min(g.check, g.batch);
  for (int b = 0; b < checks; ++b) {
    const tandem::CheckMetrics c = tandem::compute_check(buf.tasks[b], opt);
    res = std::max(res, c.residual_ratio);
    orth = std::max(orth, c.orthogonality_ratio);
    rel = std::max(rel, c.residual);
  }
  out["checked"] = checks;
  out["residual_ratio_max"] = res;
  out["orthogonality_ratio_max"] = orth;
  out["relative_residual_max"] = rel;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args g = parse(argc, argv);
    tandem::cuda::CudaBackendOptions o;
    o.streams_per_device = g.streams;
    o.kernel_for_small = g.small_kernel;
    o.blocking_sync = !g.spin;
    o.chunk = g.chunk;
    tandem::cuda::CudaBackend backend({0}, std::make_shared<tandem::CpuBackend>(0), o);
    nlohmann::json out = g.f32 ? run<float>(g, backend, tandem::DType::kFloat32)
                               : run<double>(g, backend, tandem::DType::kFloat64);
    out["backend"] = backend.name();
    out["case"] = std::to_string(g.batch) + "x" + std::to_string(g.m) + "x" + std::to_string(g.n) +
                  (g.f32 ? " f32" : " f64") + (g.economy ? " economy" : " full") +
                  (g.values_only ? " values" : "") + " " + g.algorithm +
                  (g.small_kernel ? " small-kernel" : "") + (g.spin ? " spin" : "") +
                  (g.chunk > 0 ? " chunk " + std::to_string(g.chunk) : "");
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "svd_gpu_driver: error: %s\n", e.what());
    return 1;
  }
}
