// SPDX-License-Identifier: Apache-2.0
#pragma once
// The CUDA SVD backend: one feeder per device calls svd(); inside, K GpuWorkers per device
// (each with its own stream, cuSOLVER handle and host thread) share the batch's chunks.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gpu_worker.h"
#include "svd/backend.h"

namespace tandem::cuda {

/// Tunables of CudaBackend; the defaults suit the H100 measurements in bench/RESULTS.md.
struct CudaBackendOptions {
  int streams_per_device = 10;               ///< GpuWorkers per device (capped by memory)
  int64_t batch_bytes = int64_t(512) << 20;  ///< input bytes per svd() call (BackendTraits)
  int max_chunk = 8192;                      ///< matrices per batched solver call
  int chunk = 0;  ///< matrices per batched call when > 0 (benchmarks), else two chunks per worker
  bool kernel_for_small = false;  ///< our Jacobi kernel also for ≤ 32×32 (else gesvdjBatched)
  int64_t memory_limit = 0;       ///< device bytes to plan with; 0 = what is free (tests)
  bool gram_in_auto = true;       ///< auto may take the checked Gram route (float32)
  bool gram_for_large = false;    ///< ... and the refined one for float64 / square (RoutePolicy)
  bool blocking_sync = true;      ///< waiting worker threads sleep rather than spin a core
  /// A matrix too large for the device: solved on the CPU (--device auto), or a per-item error
  /// (--device gpu, which asked for the GPU only).
  bool cpu_for_too_large = true;
};

/// Batched SVD on one or more CUDA devices. Thread-safe for traits().callers callers: each call
/// takes a free device for its duration.
class CudaBackend : public Backend {
 public:
  /// Starts creating the context and first worker of every ordinal in `devices` in the
  /// background (the first svd() call waits for it); throws at once only for an ordinal that
  /// does not exist. `cpu_fallback` (may be null) solves what no GPU route can: empty or
  /// too-large matrices, those failing every route, and everything on a device whose context
  /// or handles could not be made when cpu_for_too_large (--device auto).
  CudaBackend(const std::vector<int>& devices, std::shared_ptr<Backend> cpu_fallback,
              CudaBackendOptions options = {});
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  /// "cuda (NVIDIA H100 80GB HBM3)", or "cuda (2× ...)" with several devices.
  std::string name() const override;
  /// callers = number of devices, holds_cores = false.
  BackendTraits traits() const override;
  /// Solves the batch; one ItemResult per task, in order.
  std::vector<ItemResult> svd(const std::vector<SvdTask>& batch, const SvdOptions& opt) override;
  /// Reports each task as soon as its chunk is finished (the caller writes it while later
  /// chunks compute).
  void svd_streamed(const std::vector<SvdTask>& batch, const SvdOptions& opt,
                    const ItemDone& done) override;

 private:
  struct Device;
  struct Group;

  static void warm_up(Device& dev, const CudaBackendOptions& options);
  Device& acquire(std::unique_lock<std::mutex>* lock);
  void run_group(Device& dev, const Group& group, const SvdOptions& opt, const ItemDone& done);
  void run_on_cpu(const Group& group, const SvdOptions& opt, const std::string& why,
                  const ItemDone& done);
  void finish_item(GpuWorker& worker, const SvdTask& task, const SvdOptions& opt, Route route,
                   int status, std::string error, const CheckMetrics* device_check,
                   ItemResult& result);
  ItemResult cpu_solve(const SvdTask& task, const SvdOptions& opt);

  std::vector<std::unique_ptr<Device>> devices_;
  std::shared_ptr<Backend> cpu_;
  std::mutex cpu_mutex_;  // the fallback is called from several worker threads
  CudaBackendOptions options_;
  std::atomic<std::size_t> next_device_{0};
};

namespace detail {

/// Runs body(0) on the calling thread and body(1) … body(n − 1) each on a thread of its own (on
/// the calling thread after body(0) when no more threads can be started), waits for all of them,
/// then rethrows the exception of the lowest index that threw: none escapes a std::thread.
void run_concurrently(int n, const std::function<void(int)>& body);

}  // namespace detail

}  // namespace tandem::cuda
