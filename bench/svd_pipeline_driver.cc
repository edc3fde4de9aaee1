// SPDX-License-Identifier: Apache-2.0
// The svd pipeline's own cost: what `tandem svd` on files spends besides the decomposition.
// Writes B random m×n .npy files, then runs the real pipeline (read, batch, write .npz with
// CRC and fdatasync, rename) over them with a backend that returns at once, shaped like the
// GPU's (batches of 512 MiB, callers that hold no core, so writer threads), and prints one JSON
// object with the per-repetition seconds. The CLI's time less this and less CUDA start-up
// (`tandem info`) is what the device itself costs.
// Usage: svd_pipeline_driver [--batch B] [--m M] [--n N] [--dtype f32|f64] [--reps R]
//        [--dir DIR] [--cpu-like]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "driver_args.h"
#include "io/npy.h"
#include "svd/scheduler.h"

namespace {

namespace fs = std::filesystem;
using tandem::DType;

struct Args {
  int batch = 20, m = 1000, n = 1000, reps = 5;
  bool f32 = false, cpu_like = false;
  std::string dir;
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
    else if (k == "--dtype")
      a.f32 = value() == "f32";
    else if (k == "--dir")
      a.dir = value();
    else if (k == "--cpu-like")
      a.cpu_like = true;
    else
      return false;
    return true;
  });
  return a;
}

// Fills U, S and Vh with zeros at once; `holds_cores` false makes the pipeline drive it as it
// drives the GPU backend.
class InstantBackend : public tandem::Backend {
 public:
  explicit InstantBackend(bool holds_cores) : holds_cores_(holds_cores) {}
  std::string name() const override { return "instant"; }
  tandem::BackendTraits traits() const override {
    return {1, holds_cores_ ? 0 : int64_t(512) << 20, holds_cores_};
  }
  std::vector<tandem::ItemResult> svd(const std::vector<tandem::SvdTask>& batch,
                                      const tandem::SvdOptions& opt) override {
    for (const tandem::SvdTask& t : batch) {
      const std::size_t e = tandem::dtype_size(t.dtype);
      std::memset(t.u, 0, std::size_t(t.shape.u_elems(opt)) * e);
      std::memset(t.s, 0, std::size_t(t.shape.k()) * e);
      std::memset(t.vh, 0, std::size_t(t.shape.vh_elems(opt)) * e);
    }
    return std::vector<tandem::ItemResult>(batch.size());
  }

 private:
  bool holds_cores_;
};

class Quiet : public tandem::SvdObserver {
 public:
  void on_item(const tandem::SvdItemRecord&) override {}
};

}  // namespace

int main(int argc, char** argv) try {
  const Args a = parse(argc, argv);
  const DType dtype = a.f32 ? DType::kFloat32 : DType::kFloat64;
  const fs::path dir =
      a.dir.empty() ? fs::temp_directory_path() / ("tandem-pipeline-" + std::to_string(::getpid()))
                    : fs::path(a.dir);
  fs::create_directories(dir / "in");
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<std::string> inputs;
  for (int b = 0; b < a.batch; ++b) {
    const std::size_t count = std::size_t(a.m) * std::size_t(a.n);
    std::vector<double> d(a.f32 ? 0 : count);
    std::vector<float> f(a.f32 ? count : 0);
    for (std::size_t i = 0; i < count; ++i) {
      if (a.f32)
        f[i] = float(uniform(rng));
      else
        d[i] = uniform(rng);
    }
    char name[32];
    std::snprintf(name, sizeof name, "m%05d.npy", b);
    inputs.push_back((dir / "in" / name).string());
    tandem::io::write_npy(inputs.back(), dtype, {a.m, a.n},
                          a.f32 ? static_cast<const void*>(f.data()) : d.data());
  }
  InstantBackend backend(a.cpu_like);
  std::vector<double> seconds;
  for (int r = 0; r < a.reps; ++r) {
    fs::remove_all(dir / "out");
    const auto sources = tandem::expand_inputs(inputs, (dir / "out").string());
    Quiet quiet;
    const auto t0 = std::chrono::steady_clock::now();
    const tandem::SvdRunStats st = tandem::run_svd_pipeline(sources, backend, {}, quiet);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (st.done != a.batch) throw tandem::Error("the pipeline lost matrices");
  }
  if (a.dir.empty()) fs::remove_all(dir);
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  nlohmann::json out{{"batch", a.batch},
                     {"m", a.m},
                     {"n", a.n},
                     {"dtype", a.f32 ? "float32" : "float64"},
                     {"driven_as", a.cpu_like ? "cpu workers" : "gpu feeder"},
                     {"seconds", seconds},
                     {"median_s", sorted[sorted.size() / 2]}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "svd_pipeline_driver: %s\n", e.what());
  return 2;
}
