// SPDX-License-Identifier: Apache-2.0
#pragma once
// One GpuWorker per stream: its own cuSOLVER handle, pinned staging buffers and device buffers
// that are reused from chunk to chunk. A worker is driven by one host thread at a time.

#include <climits>
#include <cstddef>
#include <memory>
#include <vector>

#include "handles.h"
#include "solvers.h"
#include "svd/backend.h"

namespace tandem::cuda {

/// Status of an item in GpuWorker::solve's answer whose input held a NaN or Inf.
constexpr int kNonFinite = INT_MIN;
/// Status of an item whose solver reported success but returned a NaN or Inf.
constexpr int kBadOutput = INT_MIN + 1;

/// Where one shape's SVD lives on the device: W is the column-major p×q (p ≥ q) matrix the
/// solver sees, Aᵀ as it lies in memory when n ≥ m, else A itself (transposed on the device).
struct Geometry {
  int64_t m = 0, n = 0, k = 0;  ///< numpy's shape, k = min(m, n)
  int64_t p = 0, q = 0;         ///< W's rows and columns
  bool transposed = false;      ///< W = A (m > n), else W = Aᵀ
  bool vectors = true;          ///< U and Vh wanted
  bool econ = false;            ///< the solver computes only q columns of Uw
  int64_t w_u_cols = 0;         ///< columns of Uw the route writes (q for Jacobi kernel, Gram)
  int64_t uc = 0, vr = 0;       ///< numpy's U columns and Vh rows
  int64_t elems() const { return m * n; }
};

/// The geometry of `shape` under `opt` on `route`.
Geometry make_geometry(const SvdShape& shape, const SvdOptions& opt, Route route);

/// Streams, handle and buffers of one concurrent solver on one device.
class GpuWorker {
 public:
  /// Creates the stream and handle on `device` (made current for the calling thread).
  explicit GpuWorker(int device);
  /// Frees everything on the worker's own device, whichever device is current.
  ~GpuWorker();
  GpuWorker(const GpuWorker&) = delete;
  GpuWorker& operator=(const GpuWorker&) = delete;

  /// Solves tasks[0..count) (all of one dtype and shape) on `route`, a batched route when
  /// count > 1. Writes U, S, Vh of every item that succeeded into its task buffers and returns
  /// one status per item: 0 ok, kNonFinite, kBadOutput, or the solver's info. With `checks`
  /// (and singular vectors wanted), also computes each item's --check metrics on the device
  /// (meaningful for status 0 only). Throws CudaError/SolverError when the chunk as a whole
  /// fails. Blocks until the results are home.
  std::vector<int> solve(const SvdTask* tasks, int count, Route route, const SvdOptions& opt,
                         std::vector<CheckMetrics>* checks = nullptr);

  /// Device bytes held in reusable buffers now.
  std::size_t bytes_held() const;
  /// Frees the reusable buffers (waits for the stream first).
  void release();

 private:
  template <typename T>
  std::vector<int> solve_typed(const SvdTask* tasks, int count, Route route, const SvdOptions& opt,
                               std::vector<CheckMetrics>* checks);
  template <typename T>
  void reserve(const Geometry& g, int count);
  template <typename T>
  T* stage_in(const SvdTask* tasks, int count, const Geometry& g);
  template <typename T>
  void stage_out(const Geometry& g, Route route, const SolveArgs<T>& args, bool canonical);
  template <typename T>
  std::vector<int> deliver(const SvdTask* tasks, int count, const Geometry& g);

  int device_;
  Stream stream_;
  SolverHandle solver_;
  Workspace workspace_;
  DeviceBuffer<char> in_, w_, s_, u_, v_, out_u_, out_vh_;
  DeviceBuffer<int> status_;  // per item: input NaN/Inf flags, infos, output NaN/Inf flags
  PinnedBuffer<char> staging_in_, staging_out_;
  PinnedBuffer<int> staging_status_;
  // --check on the device: a pristine copy of the inputs (solvers destroy W), float64 scratch,
  // the metrics and their pinned copy (its GEMMs use workspace_.blas).
  DeviceBuffer<char> check_a_;
  DeviceBuffer<double> check_scratch_, check_out_;
  PinnedBuffer<double> staging_check_;
};

/// Estimated device bytes of a chunk of `count` items (buffers plus a workspace allowance).
std::size_t chunk_bytes(const SvdShape& shape, DType dtype, const SvdOptions& opt, Route route,
                        int count);

}  // namespace tandem::cuda
