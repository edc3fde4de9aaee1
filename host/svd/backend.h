// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace tandem {

/// Which route a backend takes for a matrix. kAuto lets the backend pick the fastest route that
/// keeps LAPACK's accuracy; the CPU backend accepts only kAuto (LAPACK gesdd, gesvd fallback).
enum class Algorithm { kAuto, kJacobi, kPolar, kQr, kGram };

/// Parses "auto|jacobi|polar|qr|gram"; throws UsageError otherwise.
Algorithm parse_algorithm(const std::string& name);
std::string algorithm_name(Algorithm a);

/// The message for an exception that failed an item: e.what(), except for std::bad_alloc,
/// whose what() says only "std::bad_alloc".
std::string item_failure_message(const std::exception& e);

/// What to compute, the same for every backend.
struct SvdOptions {
  bool full_matrices = true;  ///< numpy's full_matrices: U is m×m and Vh n×n, else m×k and k×n
  bool values_only = false;   ///< only S (LAPACK's no-vector path); U and Vh are not written
  bool check = false;         ///< fill ItemResult::check with residual and orthogonality
  bool canonical_signs = false;  ///< sklearn svd_flip: largest-|.| entry of each U column > 0
  Algorithm algorithm = Algorithm::kAuto;
};

/// Shapes of one SVD's outputs, numpy's conventions (k = min(m, n)).
struct SvdShape {
  int64_t m = 0, n = 0;
  int64_t k() const { return m < n ? m : n; }
  int64_t u_cols(const SvdOptions& o) const { return o.full_matrices ? m : k(); }
  int64_t vh_rows(const SvdOptions& o) const { return o.full_matrices ? n : k(); }
  int64_t u_elems(const SvdOptions& o) const { return o.values_only ? 0 : m * u_cols(o); }
  int64_t vh_elems(const SvdOptions& o) const { return o.values_only ? 0 : vh_rows(o) * n; }
};

/// One matrix to decompose. All buffers are host memory owned by the caller, row-major
/// (C order, numpy's layout), of element type `dtype`, and stay valid during Backend::svd.
struct SvdTask {
  DType dtype = DType::kFloat64;
  SvdShape shape;
  const void* a = nullptr;  ///< m×n input; backends must not modify it
  void* u = nullptr;        ///< m×u_cols output (unused when values_only)
  void* s = nullptr;        ///< k singular values, descending, non-negative
  void* vh = nullptr;       ///< vh_rows×n output (unused when values_only)
};

/// ‖A−U·S·Vh‖_F/‖A‖_F and the orthogonality ‖UᵀU−I‖_F, ‖Vh·Vhᵀ−I‖_F, plus LAPACK's test ratios.
struct CheckMetrics {
  double residual = 0;         ///< relative Frobenius residual (0 for a zero matrix)
  double u_orthogonality = 0;  ///< ‖UᵀU−I‖_F
  double v_orthogonality = 0;  ///< ‖Vh·Vhᵀ−I‖_F
  double residual_ratio = 0;  ///< ‖A−UΣVᵀ‖_1/(‖A‖_1·max(m,n)·ε); LAPACK passes below 35
  double orthogonality_ratio = 0;  ///< max(‖I−UᵀU‖, ‖I−VVᵀ‖)_1/(max(m,n)·ε)
};

enum class ItemStatus { kOk, kFailed, kSkipped };

/// The outcome of one task: exactly one per SvdTask, in task order.
struct ItemResult {
  ItemStatus status = ItemStatus::kOk;
  std::string message;  ///< reason when failed; a note (e.g. a fallback) when ok
  std::string route;    ///< e.g. "lapack-gesdd", "cusolver-gesvdp", "jacobi-batched"
  bool has_check = false;
  CheckMetrics check;
};

/// How the scheduler should drive a backend.
struct BackendTraits {
  int callers = 1;          ///< threads that may call svd() at once (CPU: workers; GPU: feeders)
  int64_t batch_bytes = 0;  ///< input bytes to gather into one svd() call (0 = one matrix)
  bool holds_cores = true;  ///< each caller keeps one CPU core busy (false for GPU feeders)
};

/// Receives one task's final result (by index into the batch). Called from any of the
/// backend's threads, so it must be thread-safe; once it is called the backend no longer
/// touches that task's buffers.
using ItemDone = std::function<void(std::size_t task, ItemResult result)>;

/// The one interface of every SVD backend (CpuBackend in host/, CudaBackend in cuda/).
/// svd() is thread-safe for up to traits().callers concurrent callers; a failure of one task
/// becomes its ItemResult and never affects the others; it throws only for errors that make
/// the whole backend unusable.
class Backend {
 public:
  virtual ~Backend() = default;
  /// Short name for reports and the summary ("cpu (OpenBLAS, 2 threads)", "cuda (NVIDIA H100)").
  virtual std::string name() const = 0;
  virtual BackendTraits traits() const = 0;
  virtual std::vector<ItemResult> svd(const std::vector<SvdTask>& batch, const SvdOptions& opt) = 0;
  /// svd() that hands each task's result to `done` as soon as it is final, exactly once per
  /// task, before returning: a backend that solves a large batch piece by piece (the GPU's
  /// chunks on several streams) lets its caller write early results while later ones compute.
  /// This default reports every task when svd() returns. When it throws, the tasks not yet
  /// reported have no result.
  virtual void svd_streamed(const std::vector<SvdTask>& batch, const SvdOptions& opt,
                            const ItemDone& done);
};

/// `--device` values.
enum class DeviceChoice { kAuto, kCpu, kGpu };
DeviceChoice parse_device(const std::string& name);

/// Settings that pick and size a backend.
struct BackendConfig {
  DeviceChoice device = DeviceChoice::kAuto;
  int threads = 0;        ///< CPU worker threads; 0 = available_cores()
  std::vector<int> gpus;  ///< device ordinals to use; empty = all visible
};

/// Chooses the backend in one place (host/svd/backend_registry.cc). `note` receives one line
/// when kAuto falls back to the CPU (why no GPU is used). Throws NoDeviceError for kGpu without
/// a usable device.
std::shared_ptr<Backend> make_backend(const BackendConfig& cfg, std::string* note);

}  // namespace tandem
