// SPDX-License-Identifier: Apache-2.0
#include "smooth/gpu_volume_loop.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "core/interrupt.h"
#include "core/workers.h"

namespace tandem {

namespace {

// The state the workers share. Chunk c is read into staging[c % 2]; a worker about to read a
// volume of chunk c first waits until chunk c - 2, the buffer's previous tenant, is filtered.
class ChunkedRun {
 public:
  ChunkedRun(const SeparableGaussian& g, const GpuSmoother& gpu, std::int64_t volumes,
             const VolumeSource& source, const SmoothingMask* mask, float* out,
             NiftiStreamWriter* sink, std::size_t chunk_bytes)
      : g_(g),
        gpu_(gpu),
        volumes_(volumes),
        source_(source),
        mask_(mask),
        out_(out),
        sink_(sink),
        n_(g.shape().voxels()) {
    const std::size_t fit = n_ > 0 ? chunk_bytes / (n_ * sizeof(float)) : chunk_bytes;
    per_chunk_ = std::clamp<std::int64_t>(static_cast<std::int64_t>(fit), 1, volumes);
    const std::int64_t chunks = (volumes + per_chunk_ - 1) / per_chunk_;
    const std::size_t buffers = chunks > 1 ? 2 : 1;
    for (std::size_t b = 0; b < buffers; ++b) {
      // Not zero-filled: every volume is written before the chunk is filtered.
      staging_[b].reset(new float[n_ * static_cast<std::size_t>(per_chunk_)]);
    }
    left_.resize(static_cast<std::size_t>(chunks));
    for (std::int64_t c = 0; c < chunks; ++c) {
      left_[static_cast<std::size_t>(c)] = std::min(per_chunk_, volumes - c * per_chunk_);
    }
    filtered_.assign(static_cast<std::size_t>(chunks), 0);
  }

  // One worker's loop; any exception ends every worker's loop and is rethrown by the caller.
  void work() {
    for (std::int64_t t = next_++; t < volumes_; t = next_++) {
      if (interrupted()) throw InterruptedError();
      const std::int64_t c = t / per_chunk_;
      if (!wait_for_buffer(c)) return;
      float* dst = staging_[static_cast<std::size_t>(c % 2)].get() +
                   static_cast<std::size_t>(t - c * per_chunk_) * n_;
      nonfinite_ += source_(t, dst);
      if (mask_) {
        for (std::size_t i = 0; i < n_; ++i) dst[i] = mask_->inside[i] ? dst[i] : 0.0f;
      }
      bool last;
      {
        std::lock_guard<std::mutex> lock(mu_);
        last = --left_[static_cast<std::size_t>(c)] == 0;
      }
      if (last) filter_chunk(c);
      if (sink_) {
        while (sink_->run_task(false)) {
        }
      }
    }
    if (sink_) {
      while (sink_->run_task(true)) {
      }
    }
  }

  // Stops the others after their current volume (a worker failed).
  void fail() noexcept {
    next_ = volumes_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      failed_ = true;
    }
    cv_.notify_all();
    if (sink_) sink_->abort();
  }

  std::size_t nonfinite() const { return nonfinite_.load(); }

 private:
  // False when the run failed while waiting.
  bool wait_for_buffer(std::int64_t c) {
    if (c < 2) return true;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return failed_ || filtered_[static_cast<std::size_t>(c - 2)] != 0; });
    return !failed_;
  }

  void filter_chunk(std::int64_t c) {
    const std::int64_t first = c * per_chunk_;
    const std::int64_t count = std::min(per_chunk_, volumes_ - first);
    float* dst = out_ + static_cast<std::size_t>(first) * n_;
    gpu_.apply(g_, staging_[static_cast<std::size_t>(c % 2)].get(), dst, count);
    if (mask_) {
      // (v·M)⊛G / (M⊛G) inside the mask, 0 outside: the CPU path's division, element for element.
      for (std::int64_t v = 0; v < count; ++v) {
        float* o = dst + static_cast<std::size_t>(v) * n_;
        for (std::size_t i = 0; i < n_; ++i) {
          o[i] = mask_->inside[i] ? o[i] / mask_->smoothed[i] : 0.0f;
        }
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      filtered_[static_cast<std::size_t>(c)] = 1;
    }
    cv_.notify_all();
    if (sink_) {
      for (std::int64_t t = first; t < first + count; ++t) sink_->volume_done(t);
    }
  }

  const SeparableGaussian& g_;
  const GpuSmoother& gpu_;
  const std::int64_t volumes_;
  const VolumeSource& source_;
  const SmoothingMask* mask_;
  float* out_;
  NiftiStreamWriter* sink_;
  const std::size_t n_;
  std::int64_t per_chunk_ = 1;
  std::unique_ptr<float[]> staging_[2];
  std::atomic<std::int64_t> next_{0};
  std::atomic<std::size_t> nonfinite_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::int64_t> left_;  // per chunk, volumes not yet read; guarded by mu_
  std::vector<char> filtered_;      // per chunk, 1 once in out_; guarded by mu_
  bool failed_ = false;             // guarded by mu_
};

}  // namespace

std::size_t smooth_volumes_on_gpu(const SeparableGaussian& g, const GpuSmoother& gpu,
                                  std::int64_t volumes, const VolumeSource& source,
                                  const SmoothingMask* mask, int threads, float* out,
                                  NiftiStreamWriter* sink, std::size_t chunk_bytes) {
  if (volumes <= 0) return 0;
  TANDEM_EXPECTS(gpu.unsupported(g).empty(), "GPU smoothing: " + gpu.unsupported(g));
  ChunkedRun run(g, gpu, volumes, source, mask, out, sink, chunk_bytes);
  const int workers = static_cast<int>(std::clamp<std::int64_t>(threads, 1, volumes));
  run_workers(
      workers, [&](int) { run.work(); }, [&] { run.fail(); });
  return run.nonfinite();
}

}  // namespace tandem
