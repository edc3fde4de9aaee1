// SPDX-License-Identifier: Apache-2.0
#include "svd/cpu_backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "svd/check.h"
#include "test_matrices.h"

namespace tandem {
namespace {

using testing::geometric;
using testing::uniform;
using testing::with_singular_values;

// Runs one SVD in the given precision and returns the result with S (as double) and the check.
struct Outcome {
  ItemResult result;
  std::vector<double> s;
};

template <typename T>
Outcome decompose(const std::vector<double>& a64, int64_t m, int64_t n, SvdOptions opt) {
  std::vector<T> a(a64.begin(), a64.end());
  SvdShape sh{m, n};
  std::vector<T> u(std::max<int64_t>(1, sh.u_elems(opt))), s(sh.k()),
      vh(std::max<int64_t>(1, sh.vh_elems(opt)));
  SvdTask t{std::is_same<T, float>::value ? DType::kFloat32 : DType::kFloat64,
            sh,
            a.data(),
            u.data(),
            s.data(),
            vh.data()};
  CpuBackend cpu(1);
  opt.check = !opt.values_only;
  Outcome out{cpu.svd({t}, opt).at(0), std::vector<double>(s.begin(), s.end())};
  return out;
}

void expect_lapack_quality(const Outcome& o) {
  ASSERT_EQ(o.result.status, ItemStatus::kOk) << o.result.message;
  ASSERT_TRUE(o.result.has_check);
  EXPECT_LT(o.result.check.residual_ratio, 35.0);
  EXPECT_LT(o.result.check.orthogonality_ratio, 35.0);
  for (std::size_t i = 0; i < o.s.size(); ++i) {
    EXPECT_GE(o.s[i], 0.0);
    if (i > 0) EXPECT_LE(o.s[i], o.s[i - 1]);
  }
}

struct Case {
  const char* name;
  int64_t m, n;
};

class CpuBackendShapes : public ::testing::TestWithParam<Case> {};

TEST_P(CpuBackendShapes, RandomMatricesMeetLapackTestRatios) {
  const Case c = GetParam();
  for (bool full : {true, false}) {
    SvdOptions opt;
    opt.full_matrices = full;
    auto a = uniform(c.m, c.n, 7);
    expect_lapack_quality(decompose<double>(a, c.m, c.n, opt));
    expect_lapack_quality(decompose<float>(a, c.m, c.n, opt));
  }
}

TEST_P(CpuBackendShapes, IllConditionedMatrixKeepsItsSingularValues) {
  const Case c = GetParam();
  const int64_t k = std::min(c.m, c.n);
  auto sigma = geometric(k, 1e-12);
  auto a = with_singular_values(c.m, c.n, sigma, 11);
  Outcome o = decompose<double>(a, c.m, c.n, SvdOptions{});
  expect_lapack_quality(o);
  for (int64_t i = 0; i < k; ++i) EXPECT_NEAR(o.s[i], sigma[i], 1e-13) << "sigma " << i;
}

TEST_P(CpuBackendShapes, RankDeficientMatrixHasZeroTail) {
  const Case c = GetParam();
  const int64_t k = std::min(c.m, c.n);
  std::vector<double> sigma(k, 0.0);
  for (int64_t i = 0; i < (k + 1) / 2; ++i) sigma[i] = 1.0 + static_cast<double>(i);
  auto a = with_singular_values(c.m, c.n, sigma, 13);
  Outcome o = decompose<double>(a, c.m, c.n, SvdOptions{});
  expect_lapack_quality(o);
  for (int64_t i = (k + 1) / 2; i < k; ++i) EXPECT_LT(o.s[i], 1e-12 * o.s[0]);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CpuBackendShapes,
                         ::testing::Values(Case{"one", 1, 1}, Case{"square", 40, 40},
                                           Case{"tall", 60, 17}, Case{"wide", 9, 50},
                                           Case{"row", 1, 12}, Case{"column", 12, 1}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(CpuBackendTest, ValuesOnlyMatchesFullDecomposition) {
  auto a = uniform(30, 20, 3);
  SvdOptions values;
  values.values_only = true;
  Outcome v = decompose<double>(a, 30, 20, values);
  Outcome f = decompose<double>(a, 30, 20, SvdOptions{});
  ASSERT_EQ(v.result.status, ItemStatus::kOk);
  for (std::size_t i = 0; i < v.s.size(); ++i) EXPECT_NEAR(v.s[i], f.s[i], 1e-13 * f.s[0]);
}

TEST(CpuBackendTest, NonFiniteEntryFailsOnlyThatMatrix) {
  auto good = uniform(5, 4, 1);
  auto bad = good;
  bad[2 * 4 + 3] = std::numeric_limits<double>::quiet_NaN();
  SvdOptions opt;
  SvdShape sh{5, 4};
  std::vector<double> u1(25), s1(4), v1(16), u2(25), s2(4), v2(16);
  std::vector<SvdTask> batch = {
      {DType::kFloat64, sh, bad.data(), u1.data(), s1.data(), v1.data()},
      {DType::kFloat64, sh, good.data(), u2.data(), s2.data(), v2.data()}};
  CpuBackend cpu(1);
  auto r = cpu.svd(batch, opt);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].status, ItemStatus::kFailed);
  EXPECT_NE(r[0].message.find("NaN or Inf (first at row 2, column 3)"), std::string::npos);
  EXPECT_EQ(r[1].status, ItemStatus::kOk);
  EXPECT_GT(s2[0], 0.0);
}

TEST(CpuBackendTest, EmptyMatrixIsAnItemError) {
  CpuBackend cpu(1);
  double dummy = 0;
  SvdTask t{DType::kFloat64, {0, 4}, &dummy, &dummy, &dummy, &dummy};
  auto r = cpu.svd({t}, SvdOptions{});
  EXPECT_EQ(r.at(0).status, ItemStatus::kFailed);
  EXPECT_NE(r.at(0).message.find("empty matrix (0×4)"), std::string::npos);
}

TEST(CpuBackendTest, CanonicalSignsMakeLargestEntryOfEachUColumnPositive) {
  const int64_t m = 8, n = 5;
  auto a = uniform(m, n, 5);
  SvdOptions opt;
  opt.canonical_signs = true;
  opt.check = true;
  SvdShape sh{m, n};
  std::vector<double> u(m * m), s(n), vh(n * n);
  CpuBackend cpu(1);
  auto r = cpu.svd({{DType::kFloat64, sh, a.data(), u.data(), s.data(), vh.data()}}, opt).at(0);
  ASSERT_EQ(r.status, ItemStatus::kOk);
  EXPECT_LT(r.check.residual_ratio, 35.0);  // flipping U and Vh together keeps A = U·S·Vh
  for (int64_t j = 0; j < m; ++j) {
    double best = 0;
    for (int64_t i = 0; i < m; ++i) {
      if (std::fabs(u[i * m + j]) > std::fabs(best)) best = u[i * m + j];
    }
    EXPECT_GT(best, 0.0) << "column " << j;
  }
}

TEST(CpuBackendTest, ZeroMatrixHasZeroSingularValuesAndOrthogonalVectors) {
  std::vector<double> a(6 * 4, 0.0);
  Outcome o = decompose<double>(a, 6, 4, SvdOptions{});
  expect_lapack_quality(o);
  for (double s : o.s) EXPECT_EQ(s, 0.0);
}

}  // namespace
}  // namespace tandem
