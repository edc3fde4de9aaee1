// SPDX-License-Identifier: Apache-2.0
#include "cuda_backend.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <future>
#include <map>
#include <system_error>
#include <thread>
#include <tuple>

#include "cuda_api.h"
#include "gram_route.h"
#include "route_choice.h"
#include "svd/check.h"
#include "svd/cpu_backend.h"

namespace tandem::cuda {

namespace {

// LAPACK's test passes below this ratio; a GPU result above it is redone on an exact route.
constexpr double kTestRatioLimit = 35.0;
// Each worker costs about this much besides its buffers (handle, stream, pools).
constexpr std::size_t kWorkerOverhead = std::size_t(64) << 20;
// Leave headroom for the allocator and other processes.
constexpr double kMemoryShare = 0.85;

std::string describe_failure(Route r, int status, const std::string& error) {
  if (!error.empty()) return route_name(r) + " failed: " + error;
  if (status == kBadOutput) return route_name(r) + " returned NaN or Inf";
  if (r == Route::kGram && status == kGramCheckFailed) {
    return route_name(r) +
           " did not reach working accuracy (too ill-conditioned for the Gram route)";
  }
  if (r == Route::kJacobiKernel && status == 2) {
    return route_name(r) + " found a zero singular value (its U column needs completing)";
  }
  return route_name(r) + " did not converge (info " + std::to_string(status) + ")";
}

std::string gib(std::size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / double(1 << 30));
  return buf;
}

// Creating a cuSOLVER handle takes tens of milliseconds; K of them are made side by side so a
// short CLI run does not wait for them one after another.
std::vector<std::unique_ptr<GpuWorker>> make_workers(int ordinal, int k) {
  std::vector<std::unique_ptr<GpuWorker>> workers(k);
  detail::run_concurrently(k, [&](int i) { workers[i] = std::make_unique<GpuWorker>(ordinal); });
  return workers;
}

}  // namespace

struct CudaBackend::Device {
  // The warm-up thread writes into this Device until `ready`: wait for it before any member goes,
  // also when the constructor throws for a later ordinal (members die in reverse order, so
  // `workers` would be destroyed before `ready`'s own destructor waits).
  ~Device() {
    if (ready.valid()) ready.wait();
  }
  int ordinal = 0;
  std::string name;
  std::mutex busy;
  std::shared_future<void> ready;  // warm_up(): throws what made the device unusable
  // Set by warm_up(); read only after `ready`.
  int max_workers = 1;                              // K: streams this device may use
  std::vector<std::unique_ptr<GpuWorker>> workers;  // created as a batch first needs them
};

// Items of one dtype and shape, by index into the caller's batch.
struct CudaBackend::Group {
  std::vector<SvdTask> tasks;
  std::vector<std::size_t> index;
};

CudaBackend::CudaBackend(const std::vector<int>& devices, std::shared_ptr<Backend> cpu_fallback,
                         CudaBackendOptions options)
    : cpu_(std::move(cpu_fallback)), options_(options) {
  if (devices.empty()) throw NoDeviceError("CudaBackend needs at least one device");
  for (int ordinal : devices) {
    auto dev = std::make_unique<Device>();
    dev->ordinal = ordinal;
    cudaDeviceProp prop{};
    TANDEM_CUDA_TRY(cudaGetDeviceProperties(&prop, ordinal));  // no context needed
    dev->name = prop.name;
    // The context and the first cuSOLVER handle take a few hundred milliseconds: they are made
    // on a thread of their own while the caller reads its first batch.
    dev->ready =
        std::async(std::launch::async, [d = dev.get(), o = options_] { warm_up(*d, o); }).share();
    devices_.push_back(std::move(dev));
  }
}

void CudaBackend::warm_up(Device& dev, const CudaBackendOptions& options) {
  // This thread is ours and ends here, so nothing needs restoring (a DeviceScope would restore
  // device 0, and since CUDA 12.0 cudaSetDevice creates that device's primary context too).
  TANDEM_CUDA_TRY(cudaSetDevice(dev.ordinal));  // creates the device's primary context
  if (options.blocking_sync) {
    // Waiting worker threads sleep instead of spinning: with the default heuristic each of the
    // K workers spins a host core while its stream runs, and `tandem run` gives those cores to
    // subject jobs. Device work here is milliseconds per call, so the wake-up latency (tens of
    // microseconds) does not show. A driver that refuses the flags on a live context only
    // costs those cores, so its error is cleared, not thrown.
    if (cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync) != cudaSuccess) (void)cudaGetLastError();
  }
  std::size_t free_b = 0, total_b = 0;
  TANDEM_CUDA_TRY(cudaMemGetInfo(&free_b, &total_b));
  // A handle and its pools cost tens of MiB: keep workers to a small share of free memory.
  const int by_memory = int(std::max<std::size_t>(1, free_b / 8 / kWorkerOverhead));
  dev.max_workers = std::max(1, std::min(options.streams_per_device, by_memory));
  dev.workers = make_workers(dev.ordinal, 1);  // an unusable device fails here
}

CudaBackend::~CudaBackend() = default;  // each Device waits for its warm-up thread

std::string CudaBackend::name() const {
  devices_[0]->ready.wait();  // the stream count depends on the device's free memory
  std::string n = devices_.size() > 1 ? std::to_string(devices_.size()) + "× " : "";
  return "cuda (" + n + devices_[0]->name + ", " + std::to_string(devices_[0]->max_workers) +
         " streams)";
}

BackendTraits CudaBackend::traits() const {
  BackendTraits t;
  t.callers = int(devices_.size());
  t.batch_bytes = options_.batch_bytes;
  t.holds_cores = false;
  return t;
}

CudaBackend::Device& CudaBackend::acquire(std::unique_lock<std::mutex>* lock) {
  const std::size_t start = next_device_++;
  for (std::size_t i = 0; i < devices_.size(); ++i) {
    Device& d = *devices_[(start + i) % devices_.size()];
    std::unique_lock<std::mutex> l(d.busy, std::try_to_lock);
    if (l.owns_lock()) {
      *lock = std::move(l);
      return d;
    }
  }
  Device& d = *devices_[start % devices_.size()];
  *lock = std::unique_lock<std::mutex>(d.busy);
  return d;
}

std::vector<ItemResult> CudaBackend::svd(const std::vector<SvdTask>& batch, const SvdOptions& opt) {
  std::vector<ItemResult> results(batch.size());
  svd_streamed(batch, opt, [&results](std::size_t i, ItemResult r) { results[i] = std::move(r); });
  return results;
}

void CudaBackend::svd_streamed(const std::vector<SvdTask>& batch, const SvdOptions& opt,
                               const ItemDone& done) {
  if (batch.empty()) return;
  // The scheduler sends same-shape batches, but nothing breaks if it does not.
  std::map<std::tuple<int, int64_t, int64_t>, Group> groups;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const SvdTask& t = batch[i];
    Group& g = groups[{int(t.dtype), t.shape.m, t.shape.n}];
    g.tasks.push_back(t);
    g.index.push_back(i);
  }
  std::unique_lock<std::mutex> lock;
  Device& dev = acquire(&lock);
  try {
    dev.ready.get();
  } catch (const std::exception& e) {
    if (!options_.cpu_for_too_large) throw;  // --device gpu: every item fails with the reason
    const std::string why = dev.name + " is unusable (" + e.what() + "); solved on the CPU";
    for (auto& entry : groups) run_on_cpu(entry.second, opt, why, done);
    return;
  }
  for (auto& entry : groups) run_group(dev, entry.second, opt, done);
}

ItemResult CudaBackend::cpu_solve(const SvdTask& task, const SvdOptions& opt) {
  if (!cpu_) {
    ItemResult r;
    r.status = ItemStatus::kFailed;
    r.message = "no GPU route solved it and no CPU fallback is configured";
    return r;
  }
  std::lock_guard<std::mutex> guard(cpu_mutex_);
  SvdOptions cpu_opt = opt;
  cpu_opt.algorithm = Algorithm::kAuto;  // the CPU backend has one route
  return cpu_->svd({task}, cpu_opt).at(0);
}

void CudaBackend::run_on_cpu(const Group& group, const SvdOptions& opt, const std::string& why,
                             const ItemDone& done) {
  for (std::size_t i = 0; i < group.tasks.size(); ++i) {
    ItemResult r = cpu_solve(group.tasks[i], opt);
    if (!why.empty()) r.message = why + (r.message.empty() ? "" : "; " + r.message);
    done(group.index[i], std::move(r));
  }
}

void CudaBackend::run_group(Device& dev, const Group& group, const SvdOptions& opt,
                            const ItemDone& done) {
  const SvdShape shape = group.tasks[0].shape;
  const DType dtype = group.tasks[0].dtype;
  // The route may depend on the card (shared memory). The feeder thread is left on the device,
  // as loop(0) below leaves it anyway: restoring a thread that had none set would set device 0,
  // and since CUDA 12.0 that creates a context on a card the user may not have chosen.
  TANDEM_CUDA_TRY(cudaSetDevice(dev.ordinal));
  std::string note;
  RoutePolicy policy;
  policy.kernel_for_small = options_.kernel_for_small;
  policy.gram_in_auto = options_.gram_in_auto;
  policy.gram_for_large = options_.gram_for_large;
  const Route route = choose_route(shape, dtype, opt, policy, &note);
  if (route == Route::kCpu) return run_on_cpu(group, opt, note, done);

  // Plan: chunks of `chunk` matrices (one for per-matrix routes) on up to K workers, as many
  // as the device's memory holds.
  const int n = int(group.tasks.size());
  const int k = dev.max_workers;
  // Two chunks per worker, so one worker's copies overlap another's kernels once they drift
  // apart.
  int chunk = 1;
  if (route_is_batched(route)) {
    chunk = options_.chunk > 0 ? std::min(options_.chunk, options_.max_chunk)
                               : std::clamp((n + 2 * k - 1) / (2 * k), 1, options_.max_chunk);
  }
  std::size_t free_b = 0, total_b = 0;
  TANDEM_CUDA_TRY(cudaMemGetInfo(&free_b, &total_b));
  std::size_t held = 0;
  for (auto& w : dev.workers) held += w->bytes_held();
  std::size_t budget = std::size_t(double(free_b + held) * kMemoryShare);
  if (options_.memory_limit > 0) budget = std::min(budget, std::size_t(options_.memory_limit));
  while (chunk > 1 && chunk_bytes(shape, dtype, opt, route, chunk) > budget) chunk /= 2;
  const std::size_t need = chunk_bytes(shape, dtype, opt, route, chunk);
  if (need > budget) {
    const std::string why = "too large for " + dev.name + " (needs about " + gib(need) + ", " +
                            gib(budget) + " usable)";
    if (options_.cpu_for_too_large)
      return run_on_cpu(group, opt, why + "; solved on the CPU", done);
    for (std::size_t i = 0; i < group.tasks.size(); ++i) {
      ItemResult r;
      r.status = ItemStatus::kFailed;
      r.message = why + "; --device gpu does not fall back to the CPU (use --device auto)";
      done(group.index[i], std::move(r));
    }
    return;
  }
  const int jobs = (n + chunk - 1) / chunk;
  int active = std::max(1, std::min({k, jobs, int(budget / need)}));
  const int have = int(dev.workers.size());
  if (have < active) {
    try {
      for (auto& w : make_workers(dev.ordinal, active - have)) dev.workers.push_back(std::move(w));
    } catch (const std::exception&) {
      // Fewer streams than planned (handles short of memory, no thread) still make progress.
      active = have;
    }
  }
  // Buffers cached for another shape by idle workers would crowd out the active ones.
  std::size_t usable = free_b;
  for (int wi = 0; wi < active; ++wi) usable += dev.workers[wi]->bytes_held();
  if (double(usable) * kMemoryShare < double(need) * active) {
    for (int wi = active; wi < int(dev.workers.size()); ++wi) dev.workers[wi]->release();
  }

  std::atomic<int> next{0};
  auto loop = [&](int wi) {
    GpuWorker& worker = *dev.workers[wi];
    try {
      for (int j = next++; j < jobs; j = next++) {
        const int begin = j * chunk, count = std::min(chunk, n - begin);
        std::vector<int> status(count, 0);
        std::vector<CheckMetrics> checks;
        std::string error;
        try {
          status = worker.solve(&group.tasks[begin], count, route, opt,
                                opt.check && !opt.values_only ? &checks : nullptr);
        } catch (const std::exception& e) {
          error = e.what();
        }
        for (int i = 0; i < count; ++i) {
          ItemResult r;
          const CheckMetrics* check = std::size_t(i) < checks.size() ? &checks[i] : nullptr;
          try {
            finish_item(worker, group.tasks[begin + i], opt, route, status[i], error, check, r);
          } catch (const std::exception& e) {  // only the CPU fallback itself can get here
            r.status = ItemStatus::kFailed;
            r.message = item_failure_message(e);
          }
          if (!note.empty()) r.message = note + (r.message.empty() ? "" : "; " + r.message);
          done(group.index[begin + i], std::move(r));
        }
      }
    } catch (...) {
      // Only `done` (the caller's) or memory can throw here: the other workers stop after their
      // current chunk, and run_concurrently rethrows once all have.
      next = jobs;
      throw;
    }
  };
  detail::run_concurrently(active, loop);
}

// Takes one item from the GPU's first answer to its final result: the check on success, else
// the next exact route, finally the CPU. Never throws.
void CudaBackend::finish_item(GpuWorker& worker, const SvdTask& task, const SvdOptions& opt,
                              Route route, int status, std::string error,
                              const CheckMetrics* device_check, ItemResult& result) {
  std::string history;
  const bool vectors = !opt.values_only;
  std::vector<CheckMetrics> retry_check;
  try {
    for (;;) {
      if (status == kNonFinite) {
        result.status = ItemStatus::kFailed;
        result.message = find_non_finite(task.dtype, task.a, task.shape.m, task.shape.n);
        if (result.message.empty()) result.message = "contains NaN or Inf";
        result.route = route_name(route);
        return;
      }
      if (status == 0 && error.empty()) {
        // --canonical-signs was applied on the device (GpuWorker::stage_out), before the copy.
        // Xgesvdp can miss LAPACK's accuracy (rank-deficient, ill-conditioned, float32), so a
        // polar result is always checked, whether or not the user asked for --check; that gate
        // stays on the host. --check's own metrics come from the device when it computed them
        // (sign flips change neither metric).
        const bool verify = vectors && (opt.check || route == Route::kPolar);
        if (verify) {
          result.check = device_check != nullptr && route != Route::kPolar
                             ? *device_check
                             : compute_check(task, opt);
        }
        result.has_check = opt.check && vectors;
        const bool accurate = !verify || (result.check.residual_ratio < kTestRatioLimit &&
                                          result.check.orthogonality_ratio < kTestRatioLimit);
        if (accurate) {
          result.status = ItemStatus::kOk;
          result.route = route_name(route);
          result.message = history.empty() ? "" : history + "; redone on " + route_name(route);
          return;
        }
        result.has_check = false;
        error = "check above LAPACK's test ratio";
      }
      history += (history.empty() ? "" : "; ") + describe_failure(route, status, error);
      route = next_route(route);
      if (route == Route::kCpu) break;
      error.clear();
      device_check = nullptr;
      try {
        status =
            worker.solve(&task, 1, route, opt, opt.check && vectors ? &retry_check : nullptr).at(0);
        if (!retry_check.empty()) device_check = &retry_check[0];
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
  } catch (const std::exception& e) {
    history += (history.empty() ? "" : "; ") + std::string(e.what());
  }
  ItemResult cpu = cpu_solve(task, opt);
  cpu.message = history + "; redone on the CPU" + (cpu.message.empty() ? "" : "; " + cpu.message);
  cpu.route = "cpu-fallback:" + cpu.route;
  result = std::move(cpu);
}

namespace detail {

void run_concurrently(int n, const std::function<void(int)>& body) {
  std::vector<std::exception_ptr> errors(std::size_t(std::max(n, 0)));
  auto guarded = [&](int i) {
    try {
      body(i);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(errors.size());
  int started = 1;
  try {
    for (; started < n; ++started) threads.emplace_back(guarded, started);
  } catch (const std::system_error&) {
    // Out of threads: the rest run here, after body(0).
  }
  if (n > 0) guarded(0);
  for (int i = started; i < n; ++i) guarded(i);
  for (auto& t : threads) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace detail

std::shared_ptr<Backend> make_cuda_backend(const std::vector<int>& devices,
                                           std::shared_ptr<Backend> cpu_fallback,
                                           bool gpu_required) {
  CudaBackendOptions options;
  options.cpu_for_too_large = !gpu_required;
  return std::make_shared<CudaBackend>(devices, std::move(cpu_fallback), options);
}

}  // namespace tandem::cuda
