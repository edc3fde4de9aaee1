// SPDX-License-Identifier: Apache-2.0
// Our batched Jacobi kernel on every size up to 32×32, where auto uses gesvdjBatched today:
// the evidence needed before the kernel (faster there on an H200) may become auto's choice.
#include <gtest/gtest.h>

#include <sstream>

#include "cuda_backend.h"
#include "cuda_test_util.h"

namespace tandem::testing {
namespace {

struct SmallCase {
  DType dtype;
  int64_t m, n;
  Kind kind;
  bool full;
};

void PrintTo(const SmallCase& c, std::ostream* os) {
  *os << dtype_name(c.dtype) << "_" << c.m << "x" << c.n << "_" << kind_name(c.kind)
      << (c.full ? "_full" : "_econ");
}

std::string case_name(const ::testing::TestParamInfo<SmallCase>& info) {
  std::ostringstream s;
  PrintTo(info.param, &s);
  return s.str();
}

// The backend with the kernel for small matrices, made on first use and dropped before exit.
class KernelEnvironment : public ::testing::Environment {
 public:
  static std::shared_ptr<Backend>& held() {
    static std::shared_ptr<Backend> b;
    return b;
  }
  static std::shared_ptr<Backend> backend() {
    if (!held()) {
      cuda::CudaBackendOptions o;
      o.kernel_for_small = true;
      held() = std::make_shared<cuda::CudaBackend>(std::vector<int>{0},
                                                   std::make_shared<CpuBackend>(2), o);
    }
    return held();
  }
  void TearDown() override { held().reset(); }
};

const ::testing::Environment* const kEnv =
    ::testing::AddGlobalTestEnvironment(new KernelEnvironment);

class JacobiSmallTest : public ::testing::TestWithParam<SmallCase> {};

TEST_P(JacobiSmallTest, KernelMatchesLapackWithoutFallback) {
  TANDEM_REQUIRE_DEVICE();
  const SmallCase& c = GetParam();
  SvdOptions opt;
  opt.full_matrices = c.full;
  constexpr int kBatch = 4;
  std::vector<std::unique_ptr<OwnedTask>> gpu, cpu;
  for (int b = 0; b < kBatch; ++b) {
    const std::vector<double> a = make_matrix(c.kind, c.m, c.n, 500 + b);
    gpu.push_back(std::make_unique<OwnedTask>(c.dtype, c.m, c.n, opt, a));
    cpu.push_back(std::make_unique<OwnedTask>(c.dtype, c.m, c.n, opt, a));
  }
  const std::vector<ItemResult> got = KernelEnvironment::backend()->svd(tasks_of(gpu), opt);
  CpuBackend oracle(1);
  const std::vector<ItemResult> want = oracle.svd(tasks_of(cpu), opt);
  const double eps = dtype_epsilon(c.dtype);
  for (int b = 0; b < kBatch; ++b) {
    ASSERT_EQ(got[b].status, ItemStatus::kOk) << got[b].message;
    ASSERT_EQ(want[b].status, ItemStatus::kOk) << want[b].message;
    const CheckMetrics m = compute_check(gpu[b]->task, opt);
    EXPECT_LT(m.residual_ratio, 35.0) << got[b].route;
    EXPECT_LT(m.orthogonality_ratio, 35.0) << got[b].route;
    EXPECT_LE(sigma_error(*gpu[b], *cpu[b]), 30.0 * double(std::max(c.m, c.n)) * eps);
    // Random matrices stay on the kernel; a hard one may be handed on, which the route name
    // and message then say.
    if (c.kind == Kind::kRandom) {
      EXPECT_EQ(got[b].route, "jacobi-batched") << got[b].message;
      EXPECT_EQ(got[b].message, "");
    } else if (got[b].route != "jacobi-batched") {
      EXPECT_NE(got[b].message, "") << got[b].route;
    }
  }
}

std::vector<SmallCase> small_cases() {
  std::vector<SmallCase> out;
  for (DType t : {DType::kFloat32, DType::kFloat64}) {
    for (int64_t n = 1; n <= 32; ++n) {
      for (Kind k : {Kind::kRandom, Kind::kIllConditioned, Kind::kRankDeficient, Kind::kZero}) {
        out.push_back({t, n, n, k, true});
      }
    }
    const std::pair<int64_t, int64_t> shapes[] = {{32, 1},  {1, 32},  {32, 5},  {5, 32},
                                                  {32, 17}, {17, 32}, {31, 30}, {2, 3}};
    for (const auto& [m, n] : shapes) out.push_back({t, m, n, Kind::kRandom, false});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(UpTo32, JacobiSmallTest, ::testing::ValuesIn(small_cases()), case_name);

}  // namespace
}  // namespace tandem::testing
