// SPDX-License-Identifier: Apache-2.0
#include "smooth/separable_filter.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/interrupt.h"
#include "core/workers.h"
#include "smooth/simd_clones.h"

namespace tandem {

namespace {

// Doubles accumulated per block in the row passes: small enough to stay in L1.
constexpr std::size_t kBlock = 512;

// acc = center·w0 + Σ_{k=r..1} (lo_k + hi_k)·w_k over `len` elements, in scipy's order. A null
// row (outside the image in kFsl mode) counts as zeros. `inv_norm` 0 means no renormalisation.
TANDEM_SIMD_CLONES void combine_rows(const float* center, const float* const* lo,
                                     const float* const* hi, const double* w, int r,
                                     double inv_norm, float* dst, std::size_t len) {
  double acc[kBlock];
  for (std::size_t b = 0; b < len; b += kBlock) {
    const std::size_t m = std::min(kBlock, len - b);
    const double w0 = w[0];
    for (std::size_t i = 0; i < m; ++i) acc[i] = static_cast<double>(center[b + i]) * w0;
    for (int k = r; k >= 1; --k) {
      const double wk = w[k];
      const float* l = lo[k];
      const float* h = hi[k];
      if (l && h) {
        for (std::size_t i = 0; i < m; ++i) {
          acc[i] += (static_cast<double>(l[b + i]) + static_cast<double>(h[b + i])) * wk;
        }
      } else if (l || h) {
        const float* p = l ? l : h;
        for (std::size_t i = 0; i < m; ++i) acc[i] += static_cast<double>(p[b + i]) * wk;
      }
    }
    if (inv_norm != 0.0) {
      for (std::size_t i = 0; i < m; ++i) acc[i] *= inv_norm;
    }
    for (std::size_t i = 0; i < m; ++i) dst[b + i] = static_cast<float>(acc[i]);
  }
}

template <typename Fn>
void parallel_slices(std::int64_t nz, int threads, Fn fn) {
  std::int64_t workers = std::clamp<std::int64_t>(threads, 1, nz);
  if (workers == 1) {
    fn(0, nz);
    return;
  }
  run_workers(static_cast<int>(workers),
              [&](int w) { fn(nz * w / workers, nz * (w + 1) / workers); });
}

}  // namespace

SeparableGaussian::SeparableGaussian(VolumeShape shape, const std::array<double, 3>& sigma,
                                     EdgeMode edges)
    : shape_(shape), edges_(edges) {
  const std::int64_t n[3] = {shape.nx, shape.ny, shape.nz};
  // smooth_job.cc refuses such kernels per image, naming it; this keeps any other caller from
  // allocating and computing one.
  const std::string too_wide = kernel_radius_problem(sigma, std::max({n[0], n[1], n[2]}));
  TANDEM_EXPECTS(too_wide.empty(), too_wide);
  for (int a = 0; a < 3; ++a) {
    if (!(sigma[a] > 0.0)) continue;
    kernels_[a] = make_gaussian_kernel(sigma[a]);
    active_[a] = true;
    if (edges_ == EdgeMode::kFsl) {
      const auto& w = kernels_[a].weights;
      const int r = kernels_[a].radius;
      inv_norm_[a].resize(static_cast<std::size_t>(n[a]));
      for (std::int64_t p = 0; p < n[a]; ++p) {
        double s = w[0];
        for (int k = 1; k <= r; ++k) {
          if (p - k >= 0) s += w[static_cast<std::size_t>(k)];
          if (p + k < n[a]) s += w[static_cast<std::size_t>(k)];
        }
        inv_norm_[a][static_cast<std::size_t>(p)] = 1.0 / s;
      }
    }
  }
}

TANDEM_SIMD_CLONES void SeparableGaussian::pass_x(const float* in, float* out, std::int64_t z0,
                                                  std::int64_t z1) const {
  const std::int64_t nx = shape_.nx;
  const int r = kernels_[0].radius;
  const double* w = kernels_[0].weights.data();
  const bool fsl = edges_ == EdgeMode::kFsl;
  std::vector<double> ext(static_cast<std::size_t>(nx + 2 * r));
  std::vector<double> acc(static_cast<std::size_t>(nx));
  // Positions of the padding: the reflect pattern is the same for every line.
  std::vector<std::int64_t> src_index(static_cast<std::size_t>(nx + 2 * r));
  for (std::int64_t i = -r; i < nx + r; ++i) {
    bool inside = i >= 0 && i < nx;
    src_index[static_cast<std::size_t>(i + r)] = inside ? i : fsl ? -1 : reflect_index(i, nx);
  }
  for (std::int64_t line = z0 * shape_.ny; line < z1 * shape_.ny; ++line) {
    // A wide kernel can keep one volume busy for minutes: Ctrl-C is honoured line by line.
    if (interrupted()) throw InterruptedError();
    const float* src = in + line * nx;
    float* dst = out + line * nx;
    for (std::size_t i = 0; i < ext.size(); ++i) {
      std::int64_t s = src_index[i];
      ext[i] = s < 0 ? 0.0 : static_cast<double>(src[s]);
    }
    const double* e = ext.data() + r;
    for (std::int64_t i = 0; i < nx; ++i) acc[static_cast<std::size_t>(i)] = e[i] * w[0];
    for (int k = r; k >= 1; --k) {
      const double wk = w[k];
      for (std::int64_t i = 0; i < nx; ++i)
        acc[static_cast<std::size_t>(i)] += (e[i - k] + e[i + k]) * wk;
    }
    if (fsl) {
      for (std::int64_t i = 0; i < nx; ++i)
        acc[static_cast<std::size_t>(i)] *= inv_norm_[0][static_cast<std::size_t>(i)];
    }
    for (std::int64_t i = 0; i < nx; ++i)
      dst[i] = static_cast<float>(acc[static_cast<std::size_t>(i)]);
  }
}

void SeparableGaussian::pass_y(const float* in, float* out, std::int64_t z0,
                               std::int64_t z1) const {
  const std::int64_t nx = shape_.nx, ny = shape_.ny;
  const int r = kernels_[1].radius;
  const bool fsl = edges_ == EdgeMode::kFsl;
  std::vector<const float*> lo(static_cast<std::size_t>(r) + 1),
      hi(static_cast<std::size_t>(r) + 1);
  for (std::int64_t z = z0; z < z1; ++z) {
    const float* slice = in + z * ny * nx;
    for (std::int64_t y = 0; y < ny; ++y) {
      if (interrupted()) throw InterruptedError();
      for (int k = 1; k <= r; ++k) {
        std::int64_t a = y - k, b = y + k;
        lo[static_cast<std::size_t>(k)] =
            fsl ? (a >= 0 ? slice + a * nx : nullptr) : slice + reflect_index(a, ny) * nx;
        hi[static_cast<std::size_t>(k)] =
            fsl ? (b < ny ? slice + b * nx : nullptr) : slice + reflect_index(b, ny) * nx;
      }
      double inv = fsl ? inv_norm_[1][static_cast<std::size_t>(y)] : 0.0;
      combine_rows(slice + y * nx, lo.data(), hi.data(), kernels_[1].weights.data(), r, inv,
                   out + (z * ny + y) * nx, static_cast<std::size_t>(nx));
    }
  }
}

void SeparableGaussian::pass_z(const float* in, float* out, std::int64_t z0,
                               std::int64_t z1) const {
  const std::int64_t nz = shape_.nz;
  const std::int64_t plane = shape_.nx * shape_.ny;
  const int r = kernels_[2].radius;
  const bool fsl = edges_ == EdgeMode::kFsl;
  std::vector<const float*> lo(static_cast<std::size_t>(r) + 1),
      hi(static_cast<std::size_t>(r) + 1);
  for (std::int64_t z = z0; z < z1; ++z) {
    if (interrupted()) throw InterruptedError();
    for (int k = 1; k <= r; ++k) {
      std::int64_t a = z - k, b = z + k;
      lo[static_cast<std::size_t>(k)] =
          fsl ? (a >= 0 ? in + a * plane : nullptr) : in + reflect_index(a, nz) * plane;
      hi[static_cast<std::size_t>(k)] =
          fsl ? (b < nz ? in + b * plane : nullptr) : in + reflect_index(b, nz) * plane;
    }
    double inv = fsl ? inv_norm_[2][static_cast<std::size_t>(z)] : 0.0;
    combine_rows(in + z * plane, lo.data(), hi.data(), kernels_[2].weights.data(), r, inv,
                 out + z * plane, static_cast<std::size_t>(plane));
  }
}

void SeparableGaussian::apply(const float* in, float* out, float* scratch, int threads) const {
  const std::size_t n = shape_.voxels();
  int passes = static_cast<int>(active_[0]) + active_[1] + active_[2];
  if (passes == 0) {
    std::memcpy(out, in, n * sizeof(float));
    return;
  }
  // Alternate buffers so that the last pass lands in `out`; `in` is never written.
  const float* src = in;
  int done = 0;
  for (int a = 0; a < 3; ++a) {
    if (!active_[a]) continue;
    float* dst = ((passes - 1 - done) % 2 == 0) ? out : scratch;
    parallel_slices(shape_.nz, threads, [&](std::int64_t z0, std::int64_t z1) {
      if (a == 0) pass_x(src, dst, z0, z1);
      if (a == 1) pass_y(src, dst, z0, z1);
      if (a == 2) pass_z(src, dst, z0, z1);
    });
    src = dst;
    ++done;
  }
}

}  // namespace tandem
