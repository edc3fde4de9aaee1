// SPDX-License-Identifier: Apache-2.0
// Options, failure isolation and fallbacks of the CUDA backend.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "cuda_backend.h"
#include "cuda_test_util.h"

namespace tandem::testing {
namespace {

std::vector<std::unique_ptr<OwnedTask>> random_batch(DType t, int64_t m, int64_t n, int count,
                                                     const SvdOptions& opt) {
  std::vector<std::unique_ptr<OwnedTask>> out;
  for (int i = 0; i < count; ++i) {
    out.push_back(std::make_unique<OwnedTask>(t, m, n, opt, uniform(m, n, 77 + i)));
  }
  return out;
}

// A NaN (or Inf) in one matrix fails that matrix alone, on every kind of route.
void expect_isolated(Algorithm alg, int64_t size, double poison) {
  SvdOptions opt;
  opt.algorithm = alg;
  auto batch = random_batch(DType::kFloat32, size, size, 5, opt);
  batch[2]->set_a(size + 1, poison);
  const std::vector<ItemResult> r = gpu_backend()->svd(tasks_of(batch), opt);
  ASSERT_EQ(r.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    if (i == 2) {
      EXPECT_EQ(r[i].status, ItemStatus::kFailed);
      EXPECT_NE(r[i].message.find("NaN or Inf"), std::string::npos) << r[i].message;
      continue;
    }
    ASSERT_EQ(r[i].status, ItemStatus::kOk) << r[i].message;
    const CheckMetrics m = compute_check(batch[i]->task, opt);
    EXPECT_LT(m.residual_ratio, 35.0) << r[i].route;
    EXPECT_LT(m.orthogonality_ratio, 35.0) << r[i].route;
  }
}

TEST(CudaFailureTest, NanMatrixFailsAloneInBatchedChunk) {
  TANDEM_REQUIRE_DEVICE();
  expect_isolated(Algorithm::kAuto, 16, std::numeric_limits<double>::quiet_NaN());
}

TEST(CudaFailureTest, InfMatrixFailsAloneOnPolarRoute) {
  TANDEM_REQUIRE_DEVICE();
  expect_isolated(Algorithm::kPolar, 64, std::numeric_limits<double>::infinity());
}

TEST(CudaFailureTest, NanMatrixFailsAloneOnJacobiRoute) {
  TANDEM_REQUIRE_DEVICE();
  expect_isolated(Algorithm::kJacobi, 64, std::numeric_limits<double>::quiet_NaN());
}

TEST(CudaFailureTest, NanMatrixFailsAloneOnQrRoute) {
  TANDEM_REQUIRE_DEVICE();
  expect_isolated(Algorithm::kQr, 40, -std::numeric_limits<double>::infinity());
}

TEST(CudaFailureTest, EmptyMatrixIsAnItemErrorAndOthersSucceed) {
  TANDEM_REQUIRE_DEVICE();
  SvdOptions opt;
  OwnedTask empty(DType::kFloat64, 0, 5, opt, {});
  OwnedTask fine(DType::kFloat64, 5, 5, opt, uniform(5, 5, 3));
  const std::vector<ItemResult> r = gpu_backend()->svd({empty.task, fine.task}, opt);
  EXPECT_EQ(r[0].status, ItemStatus::kFailed);
  EXPECT_EQ(r[1].status, ItemStatus::kOk) << r[1].message;
}

TEST(CudaOptionsTest, ValuesOnlyMatchesFullDecomposition) {
  TANDEM_REQUIRE_DEVICE();
  for (int64_t n : {16, 64, 200}) {
    SvdOptions full, values;
    values.values_only = true;
    OwnedTask a(DType::kFloat64, n, n + 3, full, uniform(n, n + 3, 9));
    OwnedTask b(DType::kFloat64, n, n + 3, values, uniform(n, n + 3, 9));
    ASSERT_EQ(gpu_backend()->svd({a.task}, full)[0].status, ItemStatus::kOk);
    const ItemResult r = gpu_backend()->svd({b.task}, values)[0];
    ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
    for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(a.s(i), b.s(i), 1e-12 * n * a.s(0)) << r.route;
  }
}

// The device applies exactly the host's rule: the host's canonicalize_signs, run again on the
// device's output, changes no bit (the canonical form is a fixed point), on every route and
// shape, full and economy, with extra columns of U and rows of Vh, and with ties in magnitude
// (a Hadamard matrix: every singular vector entry is ±1/2).
TEST(CudaOptionsTest, CanonicalSignsOnTheDeviceAreTheHostRule) {
  TANDEM_REQUIRE_DEVICE();
  struct Case {
    int64_t m, n;
    bool hadamard;
  };
  const Case cases[] = {{7, 5, false},    {5, 7, false},    {40, 40, false}, {33, 20, false},
                        {300, 60, false}, {20, 300, false}, {4, 4, true}};
  for (const Case& c : cases) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      for (bool full : {true, false}) {
        SCOPED_TRACE(std::to_string(c.m) + "x" + std::to_string(c.n) +
                     (full ? " full " : " econ ") +
                     (dtype == DType::kFloat64 ? "float64" : "float32"));
        SvdOptions opt;
        opt.canonical_signs = true;
        opt.full_matrices = full;
        std::vector<double> a = testing::uniform(c.m, c.n, 11);
        if (c.hadamard) a = {1, 1, 1, 1, 1, -1, 1, -1, 1, 1, -1, -1, 1, -1, -1, 1};
        OwnedTask g(dtype, c.m, c.n, opt, a);
        const ItemResult r = gpu_backend()->svd({g.task}, opt)[0];
        ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
        EXPECT_LT(compute_check(g.task, opt).residual_ratio, 35.0) << r.route;
        if (dtype == DType::kFloat64) {
          std::vector<double> u = g.u64, vh = g.vh64;
          canonicalize_signs(g.task.shape, opt, u.data(), vh.data());
          EXPECT_EQ(u, g.u64) << r.route;
          EXPECT_EQ(vh, g.vh64) << r.route;
        } else {
          std::vector<float> u = g.u32, vh = g.vh32;
          canonicalize_signs(g.task.shape, opt, u.data(), vh.data());
          EXPECT_EQ(u, g.u32) << r.route;
          EXPECT_EQ(vh, g.vh32) << r.route;
        }
      }
    }
  }
}

TEST(CudaOptionsTest, CanonicalSignsMatchCpuBackendColumns) {
  TANDEM_REQUIRE_DEVICE();
  SvdOptions opt;
  opt.canonical_signs = true;
  opt.full_matrices = false;
  for (int64_t n : {20, 60, 300}) {
    const std::vector<double> a = with_singular_values(n + 10, n, geometric(n, 1e-2), 5);
    OwnedTask g(DType::kFloat64, n + 10, n, opt, a), c(DType::kFloat64, n + 10, n, opt, a);
    const ItemResult r = gpu_backend()->svd({g.task}, opt)[0];
    ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
    CpuBackend cpu(1);
    ASSERT_EQ(cpu.svd({c.task}, opt)[0].status, ItemStatus::kOk);
    double worst = 0;
    for (int64_t i = 0; i < (n + 10) * n; ++i) worst = std::max(worst, std::fabs(g.u(i) - c.u(i)));
    for (int64_t i = 0; i < n * n; ++i) worst = std::max(worst, std::fabs(g.vh(i) - c.vh(i)));
    EXPECT_LT(worst, 1e-8) << r.route;
  }
}

TEST(CudaOptionsTest, CheckFillsMetrics) {
  TANDEM_REQUIRE_DEVICE();
  SvdOptions opt;
  opt.check = true;
  auto batch = random_batch(DType::kFloat64, 50, 30, 2, opt);
  for (const ItemResult& r : gpu_backend()->svd(tasks_of(batch), opt)) {
    ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
    EXPECT_TRUE(r.has_check);
    EXPECT_LT(r.check.residual_ratio, 35.0);
    EXPECT_LT(r.check.residual, 1e-13);
  }
}

TEST(CudaOptionsTest, GramAlgorithmSaysWhichRouteItUsed) {
  TANDEM_REQUIRE_DEVICE();
  SvdOptions opt;
  opt.algorithm = Algorithm::kGram;
  // A full U of a non-square matrix is more than the Gram route computes: another route
  // solves it and the message says which.
  auto batch = random_batch(DType::kFloat64, 120, 40, 2, opt);
  for (const ItemResult& r : gpu_backend()->svd(tasks_of(batch), opt)) {
    ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
    EXPECT_EQ(r.route.find("gram"), std::string::npos) << r.route;
    EXPECT_NE(r.message, "") << r.route;
  }
}

TEST(CudaOptionsTest, GramForLargeRefinesFloat64AndHandsOnWhatItCannotResolve) {
  TANDEM_REQUIRE_DEVICE();
  cuda::CudaBackendOptions o;
  o.gram_for_large = true;
  cuda::CudaBackend gpu({0}, std::make_shared<CpuBackend>(1), o);
  SvdOptions opt;
  std::vector<std::unique_ptr<OwnedTask>> batch;
  for (int i = 0; i < 3; ++i) {
    batch.push_back(std::make_unique<OwnedTask>(DType::kFloat64, 300, 300, opt,
                                                make_matrix(Kind::kRandom, 300, 300, 90 + i)));
  }
  batch.push_back(std::make_unique<OwnedTask>(DType::kFloat64, 300, 300, opt,
                                              make_matrix(Kind::kIllConditioned, 300, 300, 95)));
  const std::vector<ItemResult> r = gpu.svd(tasks_of(batch), opt);
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(r[i].status, ItemStatus::kOk) << r[i].message;
    const CheckMetrics m = compute_check(batch[i]->task, opt);
    EXPECT_LT(m.residual_ratio, 35.0) << r[i].route;
    EXPECT_LT(m.orthogonality_ratio, 35.0) << r[i].route;
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r[i].route, "gram-f64");
    EXPECT_EQ(r[i].message, "");
  }
  // κ = 1e12: the refinement does not converge, so the matrix is redone and says so.
  EXPECT_NE(r[3].route, "gram-f64");
  EXPECT_NE(r[3].message.find("gram-f64"), std::string::npos) << r[3].message;
}

TEST(CudaOptionsTest, MixedShapesInOneBatchKeepTheirOrder) {
  TANDEM_REQUIRE_DEVICE();
  SvdOptions opt;
  std::vector<std::unique_ptr<OwnedTask>> batch;
  const int64_t sizes[][2] = {{8, 8}, {100, 50}, {8, 8}, {3, 700}};
  for (const auto& s : sizes) {
    batch.push_back(std::make_unique<OwnedTask>(DType::kFloat64, s[0], s[1], opt,
                                                uniform(s[0], s[1], s[0] * 31 + s[1])));
  }
  const std::vector<ItemResult> r = gpu_backend()->svd(tasks_of(batch), opt);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    ASSERT_EQ(r[i].status, ItemStatus::kOk) << r[i].message;
    EXPECT_LT(compute_check(batch[i]->task, opt).residual_ratio, 35.0) << r[i].route;
  }
}

TEST(CudaFailureTest, MatrixTooLargeForTheDeviceIsSolvedOnTheCpu) {
  TANDEM_REQUIRE_DEVICE();
  cuda::CudaBackendOptions small;
  small.streams_per_device = 2;
  // Every plan counts 64 MiB of solver workspace besides its buffers: a 40×40 float64 plan
  // needs about 64 MiB, a 1500×1500 one about 236 MiB.
  small.memory_limit = int64_t(128) << 20;
  cuda::CudaBackend gpu({0}, std::make_shared<CpuBackend>(1), small);
  SvdOptions opt;
  OwnedTask big(DType::kFloat64, 1500, 1500, opt, uniform(1500, 1500, 4));
  const ItemResult r = gpu.svd({big.task}, opt)[0];
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
  EXPECT_NE(r.message.find("too large"), std::string::npos) << r.message;
  EXPECT_LT(compute_check(big.task, opt).residual_ratio, 35.0);
}

TEST(CudaFailureTest, MatrixTooLargeIsAnItemErrorWhenTheGpuIsRequired) {
  TANDEM_REQUIRE_DEVICE();
  cuda::CudaBackendOptions small;
  small.streams_per_device = 2;
  small.memory_limit = int64_t(128) << 20;  // 40×40 fits, 1500×1500 does not (see above)
  small.cpu_for_too_large = false;
  cuda::CudaBackend gpu({0}, std::make_shared<CpuBackend>(1), small);
  SvdOptions opt;
  OwnedTask big(DType::kFloat64, 1500, 1500, opt, uniform(1500, 1500, 4));
  OwnedTask fits(DType::kFloat64, 40, 40, opt, uniform(40, 40, 5));
  const std::vector<ItemResult> r = gpu.svd({big.task, fits.task}, opt);
  EXPECT_EQ(r[0].status, ItemStatus::kFailed);
  EXPECT_NE(r[0].message.find("too large"), std::string::npos) << r[0].message;
  EXPECT_NE(r[0].message.find("--device gpu"), std::string::npos) << r[0].message;
  EXPECT_EQ(r[1].status, ItemStatus::kOk) << r[1].message;
}

TEST(CudaFailureTest, UnknownDeviceOrdinalThrowsCudaError) {
  TANDEM_REQUIRE_DEVICE();
  EXPECT_THROW(cuda::make_cuda_backend({4096}, nullptr), CudaError);
}

TEST(CudaFailureTest, UnknownSecondOrdinalThrowsOnceTheFirstHasWarmedUp) {
  TANDEM_REQUIRE_DEVICE();
  // Device 0's warm-up thread is still writing into its Device when the constructor throws.
  const std::vector<int> ordinals{0, 4096};
  EXPECT_THROW(cuda::CudaBackend gpu(ordinals, nullptr), CudaError);
}

// Four workers and chunks of `chunk` matrices, so that a batch is many chunks on each.
std::unique_ptr<cuda::CudaBackend> four_streams(int chunk) {
  cuda::CudaBackendOptions o;
  o.streams_per_device = 4;
  o.chunk = chunk;
  return std::make_unique<cuda::CudaBackend>(std::vector<int>{0}, std::make_shared<CpuBackend>(1),
                                             o);
}

// Several workers, several chunks each: every task reported exactly once, with its result in
// place when it is.
TEST(CudaStreamedTest, EveryTaskIsReportedOnceAsItsChunkFinishes) {
  TANDEM_REQUIRE_DEVICE();
  auto gpu = four_streams(3);
  SvdOptions opt;
  opt.check = true;
  auto batch = random_batch(DType::kFloat32, 40, 40, 25, opt);
  std::mutex mu;
  std::vector<int> calls(batch.size(), 0);
  gpu->svd_streamed(tasks_of(batch), opt, [&](std::size_t t, ItemResult r) {
    std::lock_guard<std::mutex> lock(mu);
    ++calls.at(t);
    EXPECT_EQ(r.status, ItemStatus::kOk) << r.message;
    EXPECT_LT(compute_check(batch[t]->task, opt).residual_ratio, 35.0) << r.route;
  });
  for (std::size_t t = 0; t < calls.size(); ++t) EXPECT_EQ(calls[t], 1) << "task " << t;
}

// A callback that throws (the writer failed) ends the call with its exception once every worker
// has stopped, instead of std::terminate from a worker thread; no task is reported twice.
TEST(CudaStreamedTest, CallbackThatThrowsEndsTheCallAfterEveryWorkerStops) {
  TANDEM_REQUIRE_DEVICE();
  auto gpu = four_streams(2);
  SvdOptions opt;
  auto batch = random_batch(DType::kFloat64, 24, 24, 20, opt);
  std::mutex mu;
  std::vector<int> calls(batch.size(), 0);
  auto count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    int total = 0;
    for (int c : calls) total += c;
    return total;
  };
  EXPECT_THROW(gpu->svd_streamed(tasks_of(batch), opt,
                                 [&](std::size_t t, ItemResult) {
                                   std::lock_guard<std::mutex> lock(mu);
                                   ++calls.at(t);
                                   if (t == 5) throw std::runtime_error("writer failed");
                                 }),
               std::runtime_error);
  const int reported = count();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(count(), reported);  // nothing runs on after the call returned
  for (std::size_t t = 0; t < calls.size(); ++t) EXPECT_LE(calls[t], 1) << "task " << t;
  EXPECT_EQ(calls[5], 1);
  // The backend is still usable.
  const std::vector<ItemResult> r = gpu->svd(tasks_of(batch), opt);
  for (const ItemResult& one : r) EXPECT_EQ(one.status, ItemStatus::kOk) << one.message;
}

TEST(RunConcurrentlyTest, RunsEveryBodyOnceAndRethrowsOnlyAfterAllReturned) {
  std::mutex mu;
  std::vector<int> runs(4, 0);
  bool slow_finished = false;
  auto body = [&](int i) {
    if (i == 3) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::lock_guard<std::mutex> lock(mu);
      slow_finished = true;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      ++runs.at(std::size_t(i));
    }
    if (i == 1) throw std::runtime_error("body 1");
    if (i == 2) throw std::logic_error("body 2");
  };
  try {
    cuda::detail::run_concurrently(4, body);
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "body 1");  // the lowest index that threw
  }
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_TRUE(slow_finished);
  for (int r : runs) EXPECT_EQ(r, 1);
}

TEST(RunConcurrentlyTest, FirstBodyRunsOnTheCallingThread) {
  std::thread::id first;
  cuda::detail::run_concurrently(1, [&](int) { first = std::this_thread::get_id(); });
  EXPECT_EQ(first, std::this_thread::get_id());
  int calls = 0;
  cuda::detail::run_concurrently(0, [&](int) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(CudaOptionsTest, TwoCallersShareOneDeviceSafely) {
  TANDEM_REQUIRE_DEVICE();
  SvdOptions opt;
  auto a = random_batch(DType::kFloat32, 48, 48, 40, opt);
  auto b = random_batch(DType::kFloat64, 200, 150, 4, opt);
  std::vector<ItemResult> ra, rb;
  std::thread t([&] { ra = gpu_backend()->svd(tasks_of(a), opt); });
  rb = gpu_backend()->svd(tasks_of(b), opt);
  t.join();
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(ra[i].status, ItemStatus::kOk) << ra[i].message;
    EXPECT_LT(compute_check(a[i]->task, opt).residual_ratio, 35.0) << ra[i].route;
  }
  for (std::size_t i = 0; i < b.size(); ++i) {
    ASSERT_EQ(rb[i].status, ItemStatus::kOk) << rb[i].message;
    EXPECT_LT(compute_check(b[i]->task, opt).residual_ratio, 35.0) << rb[i].route;
  }
}

TEST(CudaOptionsTest, CheckOnTheDeviceAgreesWithTheHostCheck) {
  TANDEM_REQUIRE_DEVICE();
  struct Case {
    DType dtype;
    int64_t m, n;
    bool full;
    int count;
  };
  const Case cases[] = {{DType::kFloat32, 64, 64, true, 6},   {DType::kFloat64, 300, 60, false, 3},
                        {DType::kFloat64, 60, 300, true, 2},  {DType::kFloat32, 7, 40, false, 5},
                        {DType::kFloat64, 500, 500, true, 2}, {DType::kFloat32, 1, 1, true, 3}};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.m) + "x" + std::to_string(c.n));
    SvdOptions opt;
    opt.check = true;
    opt.full_matrices = c.full;
    auto batch = random_batch(c.dtype, c.m, c.n, c.count, opt);
    const std::vector<ItemResult> r = gpu_backend()->svd(tasks_of(batch), opt);
    for (int i = 0; i < c.count; ++i) {
      ASSERT_EQ(r[i].status, ItemStatus::kOk) << r[i].message;
      ASSERT_TRUE(r[i].has_check);
      const CheckMetrics& dev = r[i].check;
      expect_check_matches_host(dev, compute_check(batch[i]->task, opt), c.dtype, c.m, c.n);
      EXPECT_LT(dev.residual_ratio, 35.0);
      EXPECT_LT(dev.orthogonality_ratio, 35.0);
    }
  }
}

TEST(CudaOptionsTest, WaitingWorkersSleepInsteadOfSpinning) {
  TANDEM_REQUIRE_DEVICE();
  cuda::CudaBackend gpu({0}, nullptr, cuda::CudaBackendOptions{});
  (void)gpu.name();  // waits for the warm-up thread, which sets the flags
  unsigned flags = 0;
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  ASSERT_EQ(cudaGetDeviceFlags(&flags), cudaSuccess);
  EXPECT_EQ(flags & cudaDeviceScheduleMask, unsigned(cudaDeviceScheduleBlockingSync));
}

TEST(CudaOptionsTest, TraitsNameOneFeederPerDevice) {
  TANDEM_REQUIRE_DEVICE();
  const BackendTraits t = gpu_backend()->traits();
  EXPECT_EQ(t.callers, 1);
  EXPECT_FALSE(t.holds_cores);
  EXPECT_GT(t.batch_bytes, 0);
  EXPECT_NE(gpu_backend()->name().find("cuda"), std::string::npos);
}

}  // namespace
}  // namespace tandem::testing
