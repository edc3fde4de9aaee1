// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test matrices with known singular values: A = Q1·diag(σ)·Q2ᵀ, Q1 and Q2 products of random
// Householder reflections (exactly orthogonal up to rounding).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace tandem::testing {

/// Applies a random Householder reflection from the left to the row-major rows×cols matrix.
inline void reflect_rows(std::vector<double>& a, int64_t rows, int64_t cols, std::mt19937_64& g) {
  std::normal_distribution<double> nd;
  std::vector<double> v(rows);
  double vv = 0;
  for (auto& x : v) {
    x = nd(g);
    vv += x * x;
  }
  for (int64_t j = 0; j < cols; ++j) {
    double dot = 0;
    for (int64_t i = 0; i < rows; ++i) dot += v[i] * a[i * cols + j];
    const double f = 2 * dot / vv;
    for (int64_t i = 0; i < rows; ++i) a[i * cols + j] -= f * v[i];
  }
}

/// Same from the right.
inline void reflect_cols(std::vector<double>& a, int64_t rows, int64_t cols, std::mt19937_64& g) {
  std::normal_distribution<double> nd;
  std::vector<double> v(cols);
  double vv = 0;
  for (auto& x : v) {
    x = nd(g);
    vv += x * x;
  }
  for (int64_t i = 0; i < rows; ++i) {
    double dot = 0;
    for (int64_t j = 0; j < cols; ++j) dot += v[j] * a[i * cols + j];
    const double f = 2 * dot / vv;
    for (int64_t j = 0; j < cols; ++j) a[i * cols + j] -= f * v[j];
  }
}

/// A row-major m×n matrix whose singular values are `sigma` (min(m,n) of them, any order).
inline std::vector<double> with_singular_values(int64_t m, int64_t n,
                                                const std::vector<double>& sigma, uint64_t seed) {
  std::vector<double> a(static_cast<std::size_t>(m * n), 0.0);
  for (std::size_t i = 0; i < sigma.size(); ++i) a[i * n + i] = sigma[i];
  std::mt19937_64 g(seed);
  for (int r = 0; r < 4; ++r) {
    reflect_rows(a, m, n, g);
    reflect_cols(a, m, n, g);
  }
  return a;
}

/// Uniform [0,1) entries, as np.random.rand.
inline std::vector<double> uniform(int64_t m, int64_t n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> a(static_cast<std::size_t>(m * n));
  for (auto& x : a) x = u(g);
  return a;
}

/// Geometric singular values from 1 down to `smallest`.
inline std::vector<double> geometric(int64_t k, double smallest) {
  std::vector<double> s(k);
  for (int64_t i = 0; i < k; ++i) {
    s[i] = k == 1 ? 1.0 : std::pow(smallest, static_cast<double>(i) / static_cast<double>(k - 1));
  }
  return s;
}

}  // namespace tandem::testing
