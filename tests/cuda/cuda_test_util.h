// SPDX-License-Identifier: Apache-2.0
#pragma once
// Shared pieces of the CUDA tests: owned SVD tasks, the matrix kinds of the conformance cases,
// and the CPU backend as the oracle.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../svd/test_matrices.h"
#include "cuda_api.h"
#include "svd/backend.h"
#include "svd/check.h"
#include "svd/cpu_backend.h"

namespace tandem::testing {

/// Why the CUDA tests cannot run here, or empty when a device is visible.
inline std::string no_device_reason() {
  std::string why;
  if (!cuda::list_devices(&why).empty()) return "";
  return why.empty() ? "no device found" : why;
}

/// Skips the current test when no CUDA device is visible.
#define TANDEM_REQUIRE_DEVICE()                                                  \
  do {                                                                           \
    const std::string tandem_why_ = ::tandem::testing::no_device_reason();       \
    if (!tandem_why_.empty()) GTEST_SKIP() << "no CUDA device: " << tandem_why_; \
  } while (0)

/// The matrix families of the conformance suite.
enum class Kind { kRandom, kIllConditioned, kRankDeficient, kZero };

inline const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kRandom:
      return "random";
    case Kind::kIllConditioned:
      return "illcond";
    case Kind::kRankDeficient:
      return "rankdef";
    case Kind::kZero:
      return "zero";
  }
  return "?";
}

/// A row-major m×n matrix of the given kind (float64; converted per task).
inline std::vector<double> make_matrix(Kind kind, int64_t m, int64_t n, uint64_t seed) {
  const int64_t k = std::min(m, n);
  switch (kind) {
    case Kind::kRandom:
      return uniform(m, n, seed);
    case Kind::kIllConditioned:
      return with_singular_values(m, n, geometric(k, 1e-12), seed);
    case Kind::kRankDeficient: {
      std::vector<double> s = geometric(k, 1e-3);
      for (int64_t i = k / 2; i < k; ++i) s[i] = 0.0;  // rank ⌊k/2⌋ (0 for a 1×1)
      return with_singular_values(m, n, s, seed);
    }
    case Kind::kZero:
      return std::vector<double>(std::size_t(m * n), 0.0);
  }
  return {};
}

/// An SvdTask that owns its buffers.
struct OwnedTask {
  SvdTask task;
  std::vector<double> a64, u64, s64, vh64;
  std::vector<float> a32, u32, s32, vh32;

  OwnedTask(DType dtype, int64_t m, int64_t n, const SvdOptions& opt,
            const std::vector<double>& values) {
    task.dtype = dtype;
    task.shape = {m, n};
    const SvdShape& sh = task.shape;
    if (dtype == DType::kFloat64) {
      a64 = values;
      u64.assign(std::size_t(std::max<int64_t>(1, sh.u_elems(opt))), NAN);
      s64.assign(std::size_t(std::max<int64_t>(1, sh.k())), NAN);
      vh64.assign(std::size_t(std::max<int64_t>(1, sh.vh_elems(opt))), NAN);
      task.a = a64.data(), task.u = u64.data(), task.s = s64.data(), task.vh = vh64.data();
    } else {
      a32.assign(values.begin(), values.end());
      u32.assign(std::size_t(std::max<int64_t>(1, sh.u_elems(opt))), NAN);
      s32.assign(std::size_t(std::max<int64_t>(1, sh.k())), NAN);
      vh32.assign(std::size_t(std::max<int64_t>(1, sh.vh_elems(opt))), NAN);
      task.a = a32.data(), task.u = u32.data(), task.s = s32.data(), task.vh = vh32.data();
    }
  }
  OwnedTask(const OwnedTask&) = delete;
  OwnedTask& operator=(const OwnedTask&) = delete;

  /// Singular value i as float64.
  double s(int64_t i) const { return task.dtype == DType::kFloat64 ? s64[i] : s32[i]; }
  /// Element i of U / Vh / A as float64.
  double u(int64_t i) const { return task.dtype == DType::kFloat64 ? u64[i] : u32[i]; }
  double vh(int64_t i) const { return task.dtype == DType::kFloat64 ? vh64[i] : vh32[i]; }
  void set_a(int64_t i, double v) {
    if (task.dtype == DType::kFloat64)
      a64[i] = v;
    else
      a32[i] = float(v);
  }
};

/// Raw tasks of a list of owned ones, for Backend::svd.
inline std::vector<SvdTask> tasks_of(const std::vector<std::unique_ptr<OwnedTask>>& owned) {
  std::vector<SvdTask> out;
  for (const auto& o : owned) out.push_back(o->task);
  return out;
}

/// Owns the one CUDA backend of the test binary (creating streams and handles takes a while)
/// and drops it after the last test, before the CUDA runtime unloads at exit.
class GpuEnvironment : public ::testing::Environment {
 public:
  static std::shared_ptr<Backend>& backend() {
    static std::shared_ptr<Backend> b;
    return b;
  }
  void TearDown() override { backend().reset(); }
};

/// The CUDA backend on device 0 with the CPU backend (2 threads) as fallback.
inline std::shared_ptr<Backend> gpu_backend() {
  std::shared_ptr<Backend>& b = GpuEnvironment::backend();
  if (!b) b = cuda::make_cuda_backend({0}, std::make_shared<CpuBackend>(2));
  return b;
}

/// Largest |σ_gpu − σ_cpu| relative to σ_max (or absolute for a zero matrix).
inline double sigma_error(const OwnedTask& gpu, const OwnedTask& cpu) {
  double worst = 0, big = 0;
  for (int64_t i = 0; i < gpu.task.shape.k(); ++i) {
    worst = std::max(worst, std::fabs(gpu.s(i) - cpu.s(i)));
    big = std::max(big, std::fabs(cpu.s(i)));
  }
  return big > 0 ? worst / big : worst;
}

/// The device's --check metrics against the host's for the same result: the same definitions
/// with other summation orders. A result at the rounding floor (float64 Gram output) is
/// measured mostly by the rounding of the product that measures it, which moves by ±30% with
/// the order of summation, so the absolute metrics get a slack of a few max(m, n)·ε (what a
/// test ratio of 0.5 means) on top of 25%. Layout or sign errors give O(1) values still.
inline void expect_check_matches_host(const CheckMetrics& dev, const CheckMetrics& host,
                                      DType dtype, int64_t m, int64_t n) {
  const double eps = dtype_epsilon(dtype);
  const double floor = 0.5 * double(std::max(m, n)) * eps;
  EXPECT_NEAR(dev.residual_ratio, host.residual_ratio, 0.5 + 0.25 * host.residual_ratio);
  EXPECT_NEAR(dev.orthogonality_ratio, host.orthogonality_ratio,
              0.5 + 0.25 * host.orthogonality_ratio);
  EXPECT_NEAR(dev.residual, host.residual, floor + 0.25 * host.residual);
  EXPECT_NEAR(dev.u_orthogonality, host.u_orthogonality, floor + 0.25 * host.u_orthogonality);
  EXPECT_NEAR(dev.v_orthogonality, host.v_orthogonality, floor + 0.25 * host.v_orthogonality);
}

}  // namespace tandem::testing
