// SPDX-License-Identifier: Apache-2.0
#pragma once
// The arithmetic of one refinement step for an approximate SVD, shared by the GPU Gram route
// (cuda/gram_kernels.cu) and the CPU reference that tests it (tests/svd/gram_refine_test.cc).
//
// The Gram route's first answer, V from the eigenvectors of AᵀA and U from the columns of A·V
// (normalised, or by QR), is accurate to about ε·κ², not ε: fine for float32 output (computed in
// float64), not for float64. A refinement step in the manner of Ogita and Aishima (2020) restores
// working accuracy with matrix products only. With R = I − UᵀU, S = I − VᵀV and T = Uᵀ·A·V (q×q
// each), it looks for U' = U(I + F), V' = V(I + G) such that U'ᵀU' = I, V'ᵀV' = I and U'ᵀAV' = Σ to
// first order:
//   F + Fᵀ = R,  G + Gᵀ = S,  T + FᵀΣ + ΣG = Σ,
// which decouples into one 2×2 system per pair (i, j) and σᵢ = tᵢᵢ / (1 − (rᵢᵢ + sᵢᵢ)/2). The error
// after a step is about the square of the error before it. Pairs whose σ are closer than the
// current error (clusters, e.g. the zero singular values of a rank-deficient matrix) only get
// re-orthogonalised: their rotation is not determined, and any orthonormal basis of the cluster
// serves. A matrix is accepted only when the measured R, S and off-diagonal T are at working
// accuracy, so an answer that did not converge is never returned as one.

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define TANDEM_HD __host__ __device__
#else
#define TANDEM_HD
#endif

namespace tandem::gram {

/// Refinement steps before a matrix that has not converged is handed to an exact route.
/// Measured (tests/svd/gram_refine_test.cc): κ ≤ 1e3 converges in one step, κ = 1e5 in two;
/// beyond about 1e6 the eigenvectors of AᵀA carry no information about the smallest σ, so
/// more steps do not help.
constexpr int kMaxRefineSteps = 3;

/// Below this ratio of the smallest to the largest eigenvalue of AᵀA, the columns of B = A·V
/// are too close to dependent (or are noise: rank deficiency) to start from B with its columns
/// normalised; such a matrix starts from a Householder QR of B, which completes U with an
/// orthonormal basis whatever B's rank. Normalising is a batched kernel, the QR one cuSOLVER
/// call per matrix. Measured on the CPU reference: normalised starts converge within
/// kMaxRefineSteps up to κ ≈ 1e5 (ratio 1e-10), uniform random 1000×1000 (ratio ≈ 2e-11) in one
/// step; at κ ≈ 1e6 (ratio 1e-12) neither start converges, so only rank deficiency and worse
/// take the QR.
constexpr double kQrStartBelow = 1e-12;

/// True when a matrix whose AᵀA has eigenvalues in [lambda_min, lambda_max] starts from QR.
TANDEM_HD inline bool needs_qr_start(double lambda_min, double lambda_max) {
  return !(lambda_min > kQrStartBelow * lambda_max);  // also for NaN and for the zero matrix
}

/// 1/‖b‖ for a column whose squared norm is `sum_squares` (0 for a zero column, which then
/// fails the orthogonality measure and is redone).
TANDEM_HD inline double column_scale(double sum_squares) {
  return sum_squares > 0 ? 1.0 / sqrt(sum_squares) : 0.0;
}

/// The sign that makes tᵢᵢ = uᵢᵀ·A·vᵢ non-negative (U's column i and T's row i take it).
TANDEM_HD inline double column_sign(double t_ii) { return t_ii < 0 ? -1.0 : 1.0; }

/// Relative accuracy a result must reach: the output type's ε, or what float64 arithmetic on
/// a p×q W can show, whichever is larger. That is q·ε₆₄ for T, and for R = I − UᵀU the
/// rounding of measuring it: each diagonal entry sums p products, so ‖R‖_F carries about
/// √(p·q)·ε₆₄ of its own; with q·ε₆₄ alone, long matrices (p ≫ q, the fMRI time × voxel
/// shape) could never be seen to converge. LAPACK's test ratios allow 35·max(m, n)·ε, far above
/// both (√(p·q) ≤ p).
TANDEM_HD inline double refine_tolerance(int64_t p, int64_t q, double eps_out) {
  const double measured = 2.0 * sqrt(double(p) * double(q));
  const double f64 = (double(q) > measured ? double(q) : measured) * 2.220446049250313e-16;
  return eps_out > f64 ? eps_out : f64;
}

/// What a step needs to know of one matrix, gathered over its q×q matrices R, S and T.
/// An aggregate (no constructor, so that it can live in CUDA shared memory): start from
/// `Measures m{}`.
struct Measures {
  double diag2;      ///< Σ tᵢᵢ²
  double off2;       ///< Σ_{i≠j} tᵢⱼ²
  double r2;         ///< ‖R‖_F²
  double s2;         ///< ‖S‖_F²
  double off_max;    ///< max |tᵢⱼ|, i ≠ j
  double r_max;      ///< max |rᵢⱼ|
  double s_max;      ///< max |sᵢⱼ|
  double sigma_max;  ///< max σᵢ
  /// Adds entry (i, j) of R, S and T.
  TANDEM_HD void add(int64_t i, int64_t j, double r, double s, double t) {
    r2 += r * r;
    s2 += s * s;
    r_max = fmax(r_max, fabs(r));
    s_max = fmax(s_max, fabs(s));
    if (i == j) {
      diag2 += t * t;
    } else {
      off2 += t * t;
      off_max = fmax(off_max, fabs(t));
    }
  }
  /// Combines the partial measures of another part of the same matrix.
  TANDEM_HD void merge(const Measures& o) {
    diag2 += o.diag2;
    off2 += o.off2;
    r2 += o.r2;
    s2 += o.s2;
    off_max = fmax(off_max, o.off_max);
    r_max = fmax(r_max, o.r_max);
    s_max = fmax(s_max, o.s_max);
    sigma_max = fmax(sigma_max, o.sigma_max);
  }
};

/// σᵢ from the diagonal entries of T, R and S.
TANDEM_HD inline double refined_sigma(double t_ii, double r_ii, double s_ii) {
  return t_ii / (1.0 - 0.5 * (r_ii + s_ii));
}

/// True when U and V are orthonormal and UᵀAV is diagonal to within `tol` (relative to ‖Σ‖_F).
/// False for NaN.
TANDEM_HD inline bool converged(const Measures& m, double tol) {
  const double scale = m.diag2 + m.off2;
  return m.off2 <= tol * tol * scale && m.r2 <= tol * tol && m.s2 <= tol * tol;
}

/// Gap below which two σ count as one cluster: twice the current error of the factorisation.
TANDEM_HD inline double cluster_gap(const Measures& m) {
  return 2.0 * (m.off_max + m.sigma_max * (m.r_max + m.s_max));
}

/// Entries (i, j) of F and G for i ≠ j, from σᵢ, σⱼ, tᵢⱼ, tⱼᵢ and the symmetric rᵢⱼ, sᵢⱼ.
TANDEM_HD inline void pair_correction(double si, double sj, double tij, double tji, double rij,
                                      double sij, double gap, double* f, double* g) {
  const double det = sj * sj - si * si;
  if (fabs(si - sj) <= gap || det == 0.0) {
    *f = 0.5 * rij;
    *g = 0.5 * sij;
    return;
  }
  // The off-diagonal equations tᵢⱼ + fⱼᵢσⱼ + σᵢgᵢⱼ = 0 and tⱼᵢ + fᵢⱼσᵢ + σⱼgⱼᵢ = 0 with
  // fⱼᵢ = rᵢⱼ − fᵢⱼ and gⱼᵢ = sᵢⱼ − gᵢⱼ.
  const double a = -tij - rij * sj;
  const double b = -tji - sij * sj;
  *f = (-sj * a - si * b) / det;
  *g = (-si * a - sj * b) / det;
}

/// Entries (i, i) of F and G.
TANDEM_HD inline void diagonal_correction(double r_ii, double s_ii, double* f, double* g) {
  *f = 0.5 * r_ii;
  *g = 0.5 * s_ii;
}

}  // namespace tandem::gram
