// SPDX-License-Identifier: Apache-2.0
// The Gram route's algorithm, run on the CPU with LAPACK and BLAS through the same per-entry
// arithmetic the GPU kernels use (svd/gram_refine.h): which matrices it brings to LAPACK's
// accuracy, in how many steps, and that it refuses the ones it cannot.
#include "svd/gram_refine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <random>
#include <vector>

#include "svd/lapack.h"
#include "test_matrices.h"

namespace tandem::testing {
namespace {

using Mat = std::vector<double>;  // column-major

// C = op(A)·op(B), C is m×n.
Mat gemm(char ta, char tb, int m, int n, int k, const Mat& a, int lda, const Mat& b, int ldb) {
  Mat c(std::size_t(m) * n);
  const double one = 1, zero = 0;
  dgemm_(&ta, &tb, &m, &n, &k, &one, a.data(), &lda, b.data(), &ldb, &zero, c.data(), &m, 1, 1);
  return c;
}

struct GramResult {
  Mat u, v, s;  // U p×q, V q×q, σ
  bool converged = false;
  bool qr_start = false;
  int steps = 0;
};

// The route on one column-major p×q matrix W (p ≥ q), as cuda/gram_route.cc runs it.
GramResult gram_svd(const Mat& w, int p, int q, double eps_out) {
  GramResult out;
  // V: eigenvectors of WᵀW by descending eigenvalue.
  Mat g = gemm('T', 'N', q, q, p, w, p, w, p);
  std::vector<double> lambda(q);
  int lwork = -1, info = 0;
  double query = 0;
  dsyev_("V", "L", &q, g.data(), &q, lambda.data(), &query, &lwork, &info, 1, 1);
  lwork = int(query);
  std::vector<double> work(std::max(1, lwork));
  dsyev_("V", "L", &q, g.data(), &q, lambda.data(), work.data(), &lwork, &info, 1, 1);
  EXPECT_EQ(info, 0);
  out.v.resize(std::size_t(q) * q);
  for (int j = 0; j < q; ++j) {
    std::copy_n(&g[std::size_t(q - 1 - j) * q], q, &out.v[std::size_t(j) * q]);
  }
  // U from B = W·V: its columns normalised, or Q of B = Q·R when B may be rank-deficient.
  const Mat x = gemm('N', 'N', p, q, q, w, p, out.v, q);
  out.u = x;
  out.qr_start = gram::needs_qr_start(lambda[0], lambda[q - 1]);
  if (out.qr_start) {
    std::vector<double> tau(q);
    lwork = std::max(1, 64 * q);
    work.assign(lwork, 0);
    dgeqrf_(&p, &q, out.u.data(), &p, tau.data(), work.data(), &lwork, &info);
    dorgqr_(&p, &q, &q, out.u.data(), &p, tau.data(), work.data(), &lwork, &info);
  } else {
    for (int j = 0; j < q; ++j) {
      double ss = 0;
      for (int i = 0; i < p; ++i)
        ss += out.u[i + std::size_t(j) * p] * out.u[i + std::size_t(j) * p];
      const double inv = gram::column_scale(ss);
      for (int i = 0; i < p; ++i) out.u[i + std::size_t(j) * p] *= inv;
    }
  }
  // T = UᵀWV, then U's columns and T's rows signed so that T's diagonal is non-negative;
  // R = I − UᵀU and S = I − VᵀV measured.
  Mat t, rm, sm;
  auto measure = [&](const Mat& wv) {
    t = gemm('T', 'N', q, q, p, out.u, p, wv, p);
    for (int i = 0; i < q; ++i) {
      if (gram::column_sign(t[i + std::size_t(i) * q]) > 0) continue;
      for (int r = 0; r < p; ++r) out.u[r + std::size_t(i) * p] *= -1;
      for (int j = 0; j < q; ++j) t[i + std::size_t(j) * q] *= -1;
    }
    rm = gemm('T', 'N', q, q, p, out.u, p, out.u, p);
    sm = gemm('T', 'N', q, q, q, out.v, q, out.v, q);
    for (std::size_t e = 0; e < rm.size(); ++e) {
      const double id = e % (q + 1) == 0 ? 1.0 : 0.0;
      rm[e] = id - rm[e];
      sm[e] = id - sm[e];
    }
  };
  measure(x);
  const double tol = gram::refine_tolerance(p, q, eps_out);
  for (;;) {
    gram::Measures m{};
    out.s.assign(q, 0);
    for (int i = 0; i < q; ++i) {
      const std::size_t d = i + std::size_t(i) * q;
      out.s[i] = gram::refined_sigma(t[d], rm[d], sm[d]);
      m.sigma_max = std::max(m.sigma_max, std::fabs(out.s[i]));
    }
    for (int j = 0; j < q; ++j)
      for (int i = 0; i < q; ++i) {
        const std::size_t e = i + std::size_t(j) * q;
        m.add(i, j, rm[e], sm[e], t[e]);
      }
    out.converged = gram::converged(m, tol);
    if (out.converged || out.steps == gram::kMaxRefineSteps) break;
    ++out.steps;
    const double gap = gram::cluster_gap(m);
    Mat f(std::size_t(q) * q), gm(std::size_t(q) * q);
    for (int j = 0; j < q; ++j)
      for (int i = 0; i < q; ++i) {
        const std::size_t e = i + std::size_t(j) * q, et = j + std::size_t(i) * q;
        if (i == j) {
          gram::diagonal_correction(rm[e], sm[e], &f[e], &gm[e]);
        } else {
          gram::pair_correction(out.s[i], out.s[j], t[e], t[et], rm[e], sm[e], gap, &f[e], &gm[e]);
        }
      }
    const Mat uf = gemm('N', 'N', p, q, q, out.u, p, f, q);
    const Mat vg = gemm('N', 'N', q, q, q, out.v, q, gm, q);
    for (std::size_t e = 0; e < uf.size(); ++e) out.u[e] += uf[e];
    for (std::size_t e = 0; e < vg.size(); ++e) out.v[e] += vg[e];
    measure(gemm('N', 'N', p, q, q, w, p, out.v, q));
  }
  return out;
}

double norm1(const Mat& a, int rows, int cols) {
  double best = 0;
  for (int j = 0; j < cols; ++j) {
    double s = 0;
    for (int i = 0; i < rows; ++i) s += std::fabs(a[i + std::size_t(j) * rows]);
    best = std::max(best, s);
  }
  return best;
}

// LAPACK's test ratios (as in dchkbd): residual and both orthogonalities, in units of ε.
struct Ratios {
  double residual, ortho_u, ortho_v;
};

Ratios ratios(const Mat& w, int p, int q, const GramResult& r) {
  const double eps = DBL_EPSILON;
  Mat us = r.u;
  for (int j = 0; j < q; ++j)
    for (int i = 0; i < p; ++i) us[i + std::size_t(j) * p] *= r.s[j];
  Mat res = gemm('N', 'T', p, q, q, us, p, r.v, q);
  for (std::size_t e = 0; e < res.size(); ++e) res[e] = w[e] - res[e];
  const double anorm = std::max(norm1(w, p, q), DBL_MIN);
  Mat uu = gemm('T', 'N', q, q, p, r.u, p, r.u, p);
  Mat vv = gemm('T', 'N', q, q, q, r.v, q, r.v, q);
  for (int i = 0; i < q; ++i) {
    uu[i + std::size_t(i) * q] -= 1;
    vv[i + std::size_t(i) * q] -= 1;
  }
  return {norm1(res, p, q) / (p * anorm * eps), norm1(uu, q, q) / (p * eps),
          norm1(vv, q, q) / (q * eps)};
}

// Column-major W (p×q) from a row-major matrix with singular values σ.
Mat with_sigma(int p, int q, const std::vector<double>& sigma, uint64_t seed) {
  const std::vector<double> rm = with_singular_values(p, q, sigma, seed);
  Mat w(std::size_t(p) * q);
  for (int i = 0; i < p; ++i)
    for (int j = 0; j < q; ++j) w[i + std::size_t(j) * p] = rm[std::size_t(i) * q + j];
  return w;
}

Mat gaussian(int p, int q, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> nd;
  Mat w(std::size_t(p) * q);
  for (double& x : w) x = nd(g);
  return w;
}

void expect_lapack_accuracy(const Mat& w, int p, int q, const GramResult& r) {
  ASSERT_TRUE(r.converged);
  const Ratios x = ratios(w, p, q, r);
  EXPECT_LT(x.residual, 35.0);
  EXPECT_LT(x.ortho_u, 35.0);
  EXPECT_LT(x.ortho_v, 35.0);
  for (int i = 1; i < q; ++i) EXPECT_LE(r.s[i], r.s[i - 1] + 8 * q * DBL_EPSILON * r.s[0]);
}

TEST(GramRefine, RandomSquareTakesAtMostOneStep) {
  // Gaussian, and uniform as np.random.rand in the seed (one large σ, the mean; κ ≈ 1e4–1e5).
  const Mat inputs[] = {gaussian(200, 200, 1), uniform(400, 400, 11)};
  for (const Mat& w : inputs) {
    const int n = int(std::lround(std::sqrt(double(w.size()))));
    SCOPED_TRACE(n);
    const GramResult r = gram_svd(w, n, n, DBL_EPSILON);
    expect_lapack_accuracy(w, n, n, r);
    EXPECT_FALSE(r.qr_start);
    EXPECT_LE(r.steps, 1);
  }
}

TEST(GramRefine, SingularValuesMatchTheKnownOnes) {
  const int n = 120;
  const std::vector<double> sigma = geometric(n, 1e-4);
  const Mat w = with_sigma(n, n, sigma, 2);
  const GramResult r = gram_svd(w, n, n, DBL_EPSILON);
  expect_lapack_accuracy(w, n, n, r);
  for (int i = 0; i < n; ++i) EXPECT_NEAR(r.s[i], sigma[i], 20 * n * DBL_EPSILON) << i;
}

TEST(GramRefine, IllConditionedUpToOneInAHundredThousand) {
  const int n = 150;
  for (double smallest : {1e-3, 1e-5}) {
    const Mat w = with_sigma(n, n, geometric(n, smallest), 3);
    const GramResult r = gram_svd(w, n, n, DBL_EPSILON);
    SCOPED_TRACE(smallest);
    expect_lapack_accuracy(w, n, n, r);
    EXPECT_FALSE(r.qr_start);
  }
}

TEST(GramRefine, RefusesWhatItCannotResolve) {
  // κ = 1e12: σ² of the smallest values are below float64's resolution of AᵀA.
  const int n = 100;
  const Mat w = with_sigma(n, n, geometric(n, 1e-12), 4);
  const GramResult r = gram_svd(w, n, n, DBL_EPSILON);
  EXPECT_FALSE(r.converged);
  EXPECT_EQ(r.steps, gram::kMaxRefineSteps);
}

TEST(GramRefine, RankDeficientClustersAtZero) {
  const int n = 160;
  std::vector<double> sigma = geometric(n, 1e-3);
  for (int i = n / 2; i < n; ++i) sigma[i] = 0;
  const Mat w = with_sigma(n, n, sigma, 5);
  const GramResult r = gram_svd(w, n, n, DBL_EPSILON);
  expect_lapack_accuracy(w, n, n, r);
  EXPECT_TRUE(r.qr_start);
}

TEST(GramRefine, CentredDataLosesOneRank) {
  // Demeaned time series: every column sums to zero, so one σ is zero.
  const int p = 180, q = 180;
  Mat w = gaussian(p, q, 6);
  for (int i = 0; i < p; ++i) {
    double mean = 0;
    for (int j = 0; j < q; ++j) mean += w[i + std::size_t(j) * p];
    mean /= q;
    for (int j = 0; j < q; ++j) w[i + std::size_t(j) * p] -= mean;
  }
  const GramResult r = gram_svd(w, p, q, DBL_EPSILON);
  expect_lapack_accuracy(w, p, q, r);
  EXPECT_TRUE(r.qr_start);
  EXPECT_LT(r.s[q - 1], 1e-12 * r.s[0]);
}

TEST(GramRefine, RepeatedSingularValues) {
  // Two copies of one block: every σ appears twice.
  const int h = 60, n = 2 * h;
  const Mat blk = gaussian(h, h, 7);
  Mat w(std::size_t(n) * n, 0.0);
  for (int j = 0; j < h; ++j)
    for (int i = 0; i < h; ++i) {
      w[i + std::size_t(j) * n] = blk[i + std::size_t(j) * h];
      w[h + i + std::size_t(h + j) * n] = blk[i + std::size_t(j) * h];
    }
  expect_lapack_accuracy(w, n, n, gram_svd(w, n, n, DBL_EPSILON));
}

TEST(GramRefine, IdentityAndZero) {
  const int n = 40;
  Mat eye(std::size_t(n) * n, 0.0);
  for (int i = 0; i < n; ++i) eye[i + std::size_t(i) * n] = 1;
  const GramResult r = gram_svd(eye, n, n, DBL_EPSILON);
  expect_lapack_accuracy(eye, n, n, r);
  EXPECT_EQ(r.steps, 0);
  const Mat zero(std::size_t(n) * n, 0.0);
  const GramResult z = gram_svd(zero, n, n, DBL_EPSILON);
  ASSERT_TRUE(z.converged);
  for (double s : z.s) EXPECT_EQ(s, 0.0);
  const Ratios x = ratios(zero, n, n, z);
  EXPECT_LT(x.ortho_u, 35.0);
  EXPECT_LT(x.ortho_v, 35.0);
}

TEST(GramRefine, TallEconomy) {
  const int p = 900, q = 70;
  const Mat w = gaussian(p, q, 8);
  expect_lapack_accuracy(w, p, q, gram_svd(w, p, q, DBL_EPSILON));
}

TEST(GramRefine, LongEconomyMatricesConvergeInFloat64) {
  // p ≫ q, as the fMRI time × voxel shape: measuring UᵀU over p rows has rounding of about
  // √(p·q)·ε in ‖R‖_F, which the tolerance must allow for or such matrices never converge.
  const int p = 6000, q = 300;
  int not_converged = 0;
  for (unsigned seed = 0; seed < 12; ++seed) {
    const Mat w = uniform(p, q, 100 + seed);
    const GramResult r = gram_svd(w, p, q, DBL_EPSILON);
    if (!r.converged) {
      ++not_converged;
      continue;
    }
    expect_lapack_accuracy(w, p, q, r);
  }
  EXPECT_EQ(not_converged, 0);
}

TEST(GramRefine, Float32OutputNeedsNoStep) {
  // Computed in float64, the first answer is already within float32's ε for κ up to ~1e4.
  const int n = 200;
  const Mat w = gaussian(n, n, 9);
  const GramResult r = gram_svd(w, n, n, FLT_EPSILON);
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.steps, 0);
}

TEST(GramRefine, PairCorrectionSolvesTheFirstOrderSystem) {
  // tᵢⱼ + fⱼᵢσⱼ + σᵢgᵢⱼ = 0 and tⱼᵢ + fᵢⱼσᵢ + σⱼgⱼᵢ = 0 with f + fᵀ = r, g + gᵀ = s.
  const double si = 3.0, sj = 1.25, tij = 1e-9, tji = -4e-10, rij = 2e-11, sij = -3e-11;
  double fij = 0, gij = 0, fji = 0, gji = 0;
  gram::pair_correction(si, sj, tij, tji, rij, sij, 0.0, &fij, &gij);
  gram::pair_correction(sj, si, tji, tij, rij, sij, 0.0, &fji, &gji);
  EXPECT_NEAR(fij + fji, rij, 1e-24);
  EXPECT_NEAR(gij + gji, sij, 1e-24);
  EXPECT_NEAR(tij + fji * sj + si * gij, 0.0, 1e-22);
  EXPECT_NEAR(tji + fij * si + sj * gji, 0.0, 1e-22);
  // Inside a cluster only the orthogonality is restored.
  gram::pair_correction(1.0, 1.0 + 1e-12, tij, tji, rij, sij, 1e-10, &fij, &gij);
  EXPECT_EQ(fij, 0.5 * rij);
  EXPECT_EQ(gij, 0.5 * sij);
}

}  // namespace
}  // namespace tandem::testing
