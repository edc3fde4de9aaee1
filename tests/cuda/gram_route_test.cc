// SPDX-License-Identifier: Apache-2.0
// The Gram route's host-side planning, which needs no device: how a chunk is cut into
// XsyevBatched calls, and which shapes the route takes.
#include "gram_route.h"

#include <gtest/gtest.h>

#include <climits>

namespace tandem::cuda {
namespace {

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

}  // namespace
}  // namespace tandem::cuda
