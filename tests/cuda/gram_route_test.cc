// SPDX-License-Identifier: Apache-2.0
// The Gram route: its host-side planning, which needs no device (how a chunk is cut into
// XsyevBatched calls, which shapes the route takes), and on a device its chunks past one grid's
// 65535 matrices and its --check metrics against the host's.
#include "gram_route.h"

#include <gtest/gtest.h>

#include <climits>

#include "cuda_backend.h"
#include "cuda_test_util.h"

namespace tandem::cuda {
namespace {

using testing::OwnedTask;

TEST(GramRouteTest, EigenBatchesStayWithinCuSolversLimits) {
  for (int64_t q : {int64_t(1), int64_t(2), int64_t(7), int64_t(33), int64_t(100), int64_t(182),
                    int64_t(500), int64_t(1000), int64_t(2047), kGramMaxCols}) {
    SCOPED_TRACE(q);
    const int64_t n = detail::eigen_batch_limit(q);
    EXPECT_GE(n, 1);
    EXPECT_LE(n, detail::kEigenMaxBatch);
    EXPECT_LE(q * q * n, int64_t(INT32_MAX));  // n·lda·batchSize
  }
  // Small matrices: the grid bound; the widest ones: a few hundred per call, not 8192.
  EXPECT_EQ(detail::eigen_batch_limit(8), detail::kEigenMaxBatch);
  EXPECT_EQ(detail::eigen_batch_limit(kGramMaxCols), INT32_MAX / (kGramMaxCols * kGramMaxCols));
  EXPECT_LT(detail::eigen_batch_limit(kGramMaxCols), 8192);
}

TEST(GramRouteTest, FitsEconomyOrSquareUpToTheColumnLimit) {
  SvdOptions econ;
  econ.full_matrices = false;
  SvdOptions full;
  full.full_matrices = true;
  SvdOptions values = full;
  values.values_only = true;
  EXPECT_TRUE(gram_fits({300, 60}, DType::kFloat32, econ));
  EXPECT_TRUE(gram_fits({60, 300}, DType::kFloat64, econ));
  EXPECT_FALSE(gram_fits({300, 60}, DType::kFloat32, full));  // U would be 300×300
  EXPECT_FALSE(gram_fits({60, 300}, DType::kFloat32, full));  // Vh would be 300×300
  EXPECT_TRUE(gram_fits({300, 60}, DType::kFloat32, values));
  EXPECT_TRUE(gram_fits({100, 100}, DType::kFloat64, full));
  EXPECT_TRUE(gram_fits({5000, kGramMaxCols}, DType::kFloat32, econ));
  EXPECT_FALSE(gram_fits({5000, kGramMaxCols + 1}, DType::kFloat32, econ));
  EXPECT_FALSE(gram_fits({0, 5}, DType::kFloat32, econ));
  // p·q must fit the int of the per-matrix QR calls.
  EXPECT_FALSE(gram_fits({int64_t(INT_MAX) / 4 + 1, 4}, DType::kFloat64, econ));
}

TEST(GramRouteTest, OneChunkOfMoreMatricesThanOneGridHolds) {
  TANDEM_REQUIRE_DEVICE();
  // Every kernel of the route, the eigen slices and the device check go past gridDim.y = 65535.
  constexpr int kCount = 66000;
  CudaBackendOptions o;
  o.chunk = kCount;
  o.max_chunk = kCount;
  CudaBackend gpu({0}, std::make_shared<CpuBackend>(1), o);
  SvdOptions opt;
  opt.algorithm = Algorithm::kGram;
  opt.full_matrices = false;
  opt.check = true;
  std::vector<std::unique_ptr<OwnedTask>> batch;
  for (int i = 0; i < kCount; ++i) {
    batch.push_back(std::make_unique<OwnedTask>(DType::kFloat64, 6, 4, opt,
                                                testing::uniform(6, 4, 300 + uint64_t(i))));
  }
  const std::vector<ItemResult> r = gpu.svd(testing::tasks_of(batch), opt);
  ASSERT_EQ(r.size(), std::size_t(kCount));
  int off_route = 0;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(r[i].status, ItemStatus::kOk) << i << ": " << r[i].message;
    off_route += r[i].route != "gram-f64";
  }
  EXPECT_EQ(off_route, 0) << "e.g. " << r[kCount - 1].route << ": " << r[kCount - 1].message;
  for (int i : {0, 1, 65534, 65535, 65536, kCount - 1}) {
    SCOPED_TRACE(i);
    const CheckMetrics host = compute_check(batch[i]->task, opt);
    EXPECT_LT(host.residual_ratio, 35.0);
    EXPECT_LT(host.orthogonality_ratio, 35.0);
    ASSERT_TRUE(r[i].has_check);
    EXPECT_NEAR(r[i].check.residual_ratio, host.residual_ratio, 0.5 + 0.25 * host.residual_ratio);
    EXPECT_NEAR(r[i].check.orthogonality_ratio, host.orthogonality_ratio,
                0.5 + 0.25 * host.orthogonality_ratio);
  }
}

TEST(GramRouteTest, CheckOnTheDeviceAgreesWithTheHostCheck) {
  TANDEM_REQUIRE_DEVICE();
  struct Case {
    DType dtype;
    int64_t m, n;
    bool full;
  };
  const Case cases[] = {{DType::kFloat32, 1000, 40, false},
                        {DType::kFloat32, 40, 1000, false},
                        {DType::kFloat64, 300, 60, false},
                        {DType::kFloat64, 100, 100, true},
                        {DType::kFloat32, 1, 1, true}};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.m) + "x" + std::to_string(c.n));
    SvdOptions opt;
    opt.algorithm = Algorithm::kGram;
    opt.full_matrices = c.full;
    opt.check = true;
    std::vector<std::unique_ptr<OwnedTask>> batch;
    for (int i = 0; i < 3; ++i) {
      batch.push_back(std::make_unique<OwnedTask>(c.dtype, c.m, c.n, opt,
                                                  testing::uniform(c.m, c.n, 40 + uint64_t(i))));
    }
    const std::vector<ItemResult> r = testing::gpu_backend()->svd(testing::tasks_of(batch), opt);
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(r[i].status, ItemStatus::kOk) << r[i].message;
      EXPECT_EQ(r[i].route, "gram-f64") << r[i].message;
      ASSERT_TRUE(r[i].has_check);
      const CheckMetrics host = compute_check(batch[i]->task, opt);
      testing::expect_check_matches_host(r[i].check, host, c.dtype, c.m, c.n);
      EXPECT_LT(host.residual_ratio, 35.0);
      EXPECT_LT(host.orthogonality_ratio, 35.0);
    }
  }
}

}  // namespace
}  // namespace tandem::cuda
