// SPDX-License-Identifier: Apache-2.0
#include "svd/scheduler.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <limits>
#include <new>
#include <thread>

#include "core/cores.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "io/npz.h"
#include "svd/buffer_pool.h"
#include "svd/check.h"
#include "svd/work_queue.h"

namespace tandem {

namespace {

// Output of one source: its NpzWriter and how many of its matrices are still out.
struct Sink {
  const SvdSource* source = nullptr;
  int64_t count = 0;
  bool stacked = false;
  SvdShape shape;
  DType dtype = DType::kFloat64;
  std::unique_ptr<io::NpzWriter> writer;  // null when results are not written
  std::atomic<int64_t> remaining{0};
  std::atomic<bool> any_failed{false};
};

struct WorkItem {
  explicit WorkItem(BufferPool* pool) : a(pool), u(pool), s(pool), vh(pool) {}
  std::shared_ptr<Sink> sink;
  int64_t index = 0;
  int64_t bytes = 0;  // held from the budget until the item is finished
  Buffer a, u, s, vh;
  std::string read_error;
};

using Batch = std::vector<WorkItem>;

// How often a reader waiting for memory looks for an idle caller to send its partial batch.
constexpr auto kBudgetPoll = std::chrono::milliseconds(5);
// Writer threads for backends whose callers hold no core (see writer_threads()).
constexpr int kMaxWriters = 4;

// A source that opened, with what the reader needs to stream it.
struct Planned {
  const SvdSource* source;
  int64_t count, m, n;
  DType dtype;
  bool stacked;
};

struct Sizes {
  std::size_t a, u, s, vh;
  int64_t total() const { return static_cast<int64_t>(a + u + s + vh); }
};

Sizes item_sizes(const SvdShape& sh, DType t, const SvdOptions& o) {
  const std::size_t e = dtype_size(t);
  return {static_cast<std::size_t>(sh.m * sh.n) * e, static_cast<std::size_t>(sh.u_elems(o)) * e,
          static_cast<std::size_t>(sh.k()) * e, static_cast<std::size_t>(sh.vh_elems(o)) * e};
}

void fill_nan(Buffer& buf, std::size_t bytes, DType t) {
  buf.resize(bytes);
  if (t == DType::kFloat32) {
    float* p = reinterpret_cast<float*>(buf.data());
    std::fill(p, p + bytes / 4, std::numeric_limits<float>::quiet_NaN());
  } else {
    double* p = reinterpret_cast<double*>(buf.data());
    std::fill(p, p + bytes / 8, std::numeric_limits<double>::quiet_NaN());
  }
}

class Pipeline {
 public:
  Pipeline(const std::vector<SvdSource>& sources, Backend& backend, const SvdRunOptions& options,
           SvdObserver& observer)
      : sources_(sources),
        backend_(backend),
        options_(options),
        observer_(observer),
        traits_(backend.traits()) {}

  SvdRunStats run() {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<Planned> plan = prescan();
    observer_.on_start(total_);
    budget_ = std::make_unique<ByteBudget>(budget_cap(plan));
    // Idle buffers come on top of the budget's bytes in flight: half of it keeps a whole GPU
    // batch (or every CPU worker's matrix) for reuse, and peak memory within 1.5 budgets.
    pool_ = std::make_unique<BufferPool>(static_cast<std::size_t>(budget_cap(plan) / 2));
    batch_limit_ = batch_limit(plan);
    writers_ = writer_threads();
    std::vector<std::thread> writers;
    for (int i = 0; i < writers_; ++i) {
      writers.emplace_back([this] {
        while (auto write = writes_.pop()) (*write)();
      });
    }
    std::vector<std::thread> workers;
    for (int i = 0; i < std::max(1, traits_.callers); ++i) workers.emplace_back([this] { work(); });
    // Whatever the reader meets, the threads are joined before anything leaves this frame: a
    // joinable std::thread destroyed during unwinding would end the process.
    std::exception_ptr reader_error;
    try {
      read_all(plan);
    } catch (...) {
      reader_error = std::current_exception();
    }
    queue_.close();
    for (auto& w : workers) w.join();
    writes_.close();
    for (auto& w : writers) w.join();
    if (reader_error) std::rethrow_exception(reader_error);
    SvdRunStats stats;
    stats.total = total_;
    stats.done = done_;
    stats.failed = failed_;
    stats.skipped = skipped_;
    stats.interrupted = interrupted();
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return stats;
  }

 private:
  // Opens every source's header once: totals for the progress line, and early per-source errors.
  std::vector<Planned> prescan() {
    std::vector<Planned> plan;
    for (const SvdSource& src : sources_) {
      try {
        auto stack = src.open();
        const int64_t count = stack->count();
        // A 3-D input stays 3-D in the output (also a (1, m, n) stack), as numpy keeps it.
        const bool stacked = src.is_random || stack->ndim() == 3;
        const Planned planned{&src, count, stack->rows(), stack->cols(), stack->dtype(), stacked};
        if (options_.resume && !src.output.empty() && output_is_done(planned)) {
          skipped_ += count;
          observer_.on_skipped(src, count);
          continue;
        }
        total_ += count;
        if (stack->rows() == 0 || stack->cols() == 0) {
          fail_source(src, count,
                      "empty matrix (" + std::to_string(stack->rows()) + "×" +
                          std::to_string(stack->cols()) + ")");
          continue;
        }
        const int64_t need =
            item_sizes({stack->rows(), stack->cols()}, stack->dtype(), options_.svd).total();
        if (options_.memory_bytes > 0 && static_cast<uint64_t>(need) > options_.memory_bytes) {
          fail_source(src, count, too_large(stack->rows(), stack->cols(), stack->dtype(), need));
          continue;
        }
        plan.push_back(planned);
      } catch (const InputError& e) {
        total_ += 1;
        fail_source(src, 1, e.reason());
      }
    }
    return plan;
  }

  std::string too_large(int64_t m, int64_t n, DType t, int64_t need) const {
    char text[200];
    std::snprintf(text, sizeof text,
                  "%lld×%lld %s: the matrix and its %s need %.1f GB, more than the %.1f GB of "
                  "memory available",
                  static_cast<long long>(m), static_cast<long long>(n), dtype_name(t).c_str(),
                  options_.svd.values_only ? "singular values" : "U, S and Vh", need / 1e9,
                  options_.memory_bytes / 1e9);
    return text;
  }

  int64_t budget_cap(const std::vector<Planned>& plan) const {
    int64_t largest = 0;
    for (const Planned& p : plan) {
      largest = std::max(largest, item_sizes({p.m, p.n}, p.dtype, options_.svd).total());
    }
    const int64_t callers = std::max(1, traits_.callers);
    // One item (or batch) per caller being computed and one read ahead in all: enough to keep
    // every caller fed, as reading a matrix takes far less time than decomposing it.
    return std::max((callers + 1) * largest, (callers + 1) * traits_.batch_bytes);
  }

  // Callers that hold no core (GPU feeders) hand finished items to writer threads and go back
  // to the device at once; otherwise the feeder would copy, hash and fdatasync every output
  // while the GPU idles. Callers that hold a core (CPU workers) write their own results, so
  // the core budget counts that work.
  int writer_threads() const {
    if (traits_.holds_cores) return 0;
    if (options_.writer_threads > 0) return options_.writer_threads;
    return std::clamp(available_cores(), 1, kMaxWriters);
  }

  // The backend's batch size, but no larger than an equal share of the work per caller: with
  // two GPUs, a run that fits one batch is still split between them.
  int64_t batch_limit(const std::vector<Planned>& plan) const {
    const int64_t callers = std::max(1, traits_.callers);
    if (traits_.batch_bytes <= 0 || callers == 1) return traits_.batch_bytes;
    int64_t total = 0;
    for (const Planned& p : plan) {
      total += p.count * item_sizes({p.m, p.n}, p.dtype, options_.svd).total();
    }
    return std::min(traits_.batch_bytes, (total + callers - 1) / callers);
  }

  void fail_source(const SvdSource& src, int64_t count, const std::string& reason) {
    SvdItemRecord rec;
    rec.source = &src;
    rec.index = -1;
    rec.count = count;
    rec.result.status = ItemStatus::kFailed;
    rec.result.message = reason;
    failed_ += count;
    observer_.on_item(rec);
  }

  // The arrays of a source's output, shaped as np.linalg.svd returns them.
  std::vector<io::NpzArraySpec> output_specs(const Planned& p) const {
    const SvdOptions& o = options_.svd;
    const SvdShape sh{p.m, p.n};
    auto dims = [&](int64_t r, int64_t c) {
      std::vector<int64_t> d;
      if (p.stacked) d.push_back(p.count);
      d.push_back(r);
      if (c >= 0) d.push_back(c);
      return d;
    };
    std::vector<io::NpzArraySpec> specs;
    if (!o.values_only) specs.push_back({"U", p.dtype, dims(sh.m, sh.u_cols(o))});
    specs.push_back({"S", p.dtype, dims(sh.k(), -1)});
    if (!o.values_only) specs.push_back({"Vh", p.dtype, dims(sh.vh_rows(o), sh.n)});
    return specs;
  }

  // --resume: an output counts as done only when it is what these options would write now
  // (shapes: full or economy; dtype; with --canonical-signs, the signs too).
  bool output_is_done(const Planned& p) const {
    if (!io::npz_is_complete(p.source->output, output_specs(p), true)) return false;
    if (!options_.svd.canonical_signs || options_.svd.values_only) return true;
    try {
      return p.dtype == DType::kFloat32 ? stored_signs_canonical<float>(p)
                                        : stored_signs_canonical<double>(p);
    } catch (const std::exception&) {
      return false;  // unreadable after all: compute it again
    }
  }

  template <typename T>
  bool stored_signs_canonical(const Planned& p) const {
    const SvdShape sh{p.m, p.n};
    auto u = io::open_npz_member(p.source->output, "U");
    auto vh = io::open_npz_member(p.source->output, "Vh");
    std::vector<T> ub(sh.u_elems(options_.svd)), vb(sh.vh_elems(options_.svd));
    for (int64_t i = 0; i < p.count; ++i) {
      u->read(i, ub.data());
      vh->read(i, vb.data());
      if (!signs_are_canonical(sh, options_.svd, ub.data(), vb.data())) return false;
    }
    return true;
  }

  std::shared_ptr<Sink> make_sink(const Planned& p) {
    auto sink = std::make_shared<Sink>();
    sink->source = p.source;
    sink->count = p.count;
    sink->stacked = p.stacked;
    sink->shape = {p.m, p.n};
    sink->dtype = p.dtype;
    sink->remaining = p.count;
    if (p.source->output.empty()) return sink;
    std::vector<io::NpzArraySpec> specs = output_specs(p);
    std::filesystem::path parent = std::filesystem::path(p.source->output).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    sink->writer = std::make_unique<io::NpzWriter>(p.source->output, std::move(specs));
    return sink;
  }

  // Reads every matrix in order and queues them in batches: for a batching backend, same-shape
  // matrices up to its byte limit; a partial batch goes early only to a caller with nothing
  // to do, once memory is short (it frees memory as it runs) or gathering has taken
  // max_gather_seconds (a slow disk must not keep the device idle). Otherwise one matrix per
  // batch.
  void read_all(const std::vector<Planned>& plan) {
    const std::chrono::duration<double> max_gather(options_.max_gather_seconds);
    auto pending = std::make_shared<Batch>();
    auto since = std::chrono::steady_clock::now();
    auto flush = [&] {
      if (pending->empty()) return;
      queue_.push(std::move(pending));
      pending = std::make_shared<Batch>();
    };
    for (const Planned& p : plan) {
      if (interrupted()) break;
      std::unique_ptr<io::MatrixStack> stack;
      std::shared_ptr<Sink> sink;
      try {
        stack = p.source->open();
        sink = make_sink(p);
      } catch (const std::exception& e) {  // also filesystem and allocation failures
        fail_source(*p.source, p.count, e.what());
        continue;
      }
      // An empty stack, (0, m, n), has empty outputs, as np.linalg.svd returns them.
      if (p.count == 0) finalize(*sink);
      const Sizes sz = item_sizes(sink->shape, p.dtype, options_.svd);
      for (int64_t i = 0; i < p.count && !interrupted(); ++i) {
        WorkItem item(pool_.get());
        item.sink = sink;
        item.index = i;
        item.bytes = sz.total();
        if (!pending->empty() && !joins(pending->front(), item, pending->size())) flush();
        while (!pending->empty() && !budget_->try_acquire_for(item.bytes, kBudgetPoll)) {
          if (queue_.waiting() > 0) flush();
        }
        if (pending->empty()) {
          budget_->acquire(item.bytes);
          since = std::chrono::steady_clock::now();
        }
        try {
          item.a.resize(sz.a);
          stack->read(i, item.a.data());
        } catch (const std::bad_alloc&) {
          item.read_error = cannot_allocate(sz.a);
        } catch (const InputError& e) {
          item.read_error = e.reason();
        } catch (const std::exception& e) {
          // Any failure to read one matrix is that matrix's failure: the reader must go on, or
          // the workers waiting on the queue would never be joined.
          item.read_error = e.what();
        }
        pending->push_back(std::move(item));
        const bool full = !joins(pending->front(), pending->front(), pending->size());
        const bool waited = std::chrono::steady_clock::now() - since >= max_gather;
        if (full || (waited && queue_.waiting() > 0)) flush();
      }
    }
    flush();  // also on interruption: the workers give the budget back
  }

  // Whether `next` may join a batch that starts with `first` and holds `n` matrices.
  bool joins(const WorkItem& first, const WorkItem& next, std::size_t n) const {
    const int64_t limit = batch_limit_;
    return limit > 0 && next.sink->shape.m == first.sink->shape.m &&
           next.sink->shape.n == first.sink->shape.n && next.sink->dtype == first.sink->dtype &&
           static_cast<int64_t>(n + 1) * first.bytes <= limit;
  }

  void work() {
    while (auto batch = queue_.pop()) {
      if (interrupted()) {
        for (auto& item : **batch) budget_->release(item.bytes);
        continue;
      }
      compute(std::move(*batch));
    }
  }

  void compute(std::shared_ptr<Batch> batch) {
    const SvdOptions& o = options_.svd;
    std::vector<SvdTask> tasks;
    std::vector<std::size_t> item_of;  // batch index of each task
    for (std::size_t i = 0; i < batch->size(); ++i) {
      WorkItem& it = (*batch)[i];
      if (!it.read_error.empty()) {
        hand_off(batch, i, ItemResult{ItemStatus::kFailed, it.read_error, "", false, {}});
        continue;
      }
      const Sizes sz = item_sizes(it.sink->shape, it.sink->dtype, o);
      try {
        it.u.resize(sz.u);
        it.s.resize(sz.s);
        it.vh.resize(sz.vh);
      } catch (const std::bad_alloc&) {
        // This runs on a backend caller's thread: an escaping exception would end the process.
        hand_off(
            batch, i,
            ItemResult{ItemStatus::kFailed, cannot_allocate(sz.u + sz.s + sz.vh), "", false, {}});
        continue;
      }
      item_of.push_back(i);
      tasks.push_back(
          {it.sink->dtype, it.sink->shape, it.a.data(), it.u.data(), it.s.data(), it.vh.data()});
    }
    if (tasks.empty()) return;
    std::unique_ptr<std::atomic<bool>[]> reported(new std::atomic<bool>[tasks.size()]);
    for (std::size_t t = 0; t < tasks.size(); ++t) reported[t] = false;
    try {
      backend_.svd_streamed(tasks, o, [&](std::size_t t, ItemResult r) {
        reported[t] = true;
        hand_off(batch, item_of.at(t), std::move(r));
      });
    } catch (const std::exception& e) {
      const std::string why = item_failure_message(e);
      for (std::size_t t = 0; t < tasks.size(); ++t) {
        if (!reported[t]) {
          hand_off(batch, item_of[t], ItemResult{ItemStatus::kFailed, why, "", false, {}});
        }
      }
    }
  }

  static std::string cannot_allocate(std::size_t bytes) {
    char text[120];
    std::snprintf(text, sizeof text, "cannot allocate %.2f GB for it (out of memory)", bytes / 1e9);
    return text;
  }

  // Finishes one item (writes it, reports it, frees its memory) here or on a writer thread.
  // Never throws: an item handed off and then lost would hold its bytes of the budget forever
  // and the reader would wait for them.
  void hand_off(const std::shared_ptr<Batch>& batch, std::size_t i, ItemResult r) {
    if (writers_ > 0) {
      try {
        writes_.push([this, batch, i, r]() mutable { finish((*batch)[i], std::move(r)); });
        return;
      } catch (const std::exception&) {
        // No memory for the queue entry: finish it here instead.
      }
    }
    finish((*batch)[i], std::move(r));
  }

  void finish(WorkItem& it, ItemResult r) {
    Sink& sink = *it.sink;
    const Sizes sz = item_sizes(sink.shape, sink.dtype, options_.svd);
    // Whatever happens here, the item is counted and its memory given back below: a lost item
    // would keep the reader waiting for its bytes of the budget. An unwritten range makes the
    // source's commit fail, which reports the source.
    try {
      if (r.status != ItemStatus::kOk) {
        fill_nan(it.u, sz.u, sink.dtype);
        fill_nan(it.s, sz.s, sink.dtype);
        fill_nan(it.vh, sz.vh, sink.dtype);
      }
      if (sink.writer) write_result(sink, it, sz);
    } catch (const std::exception& e) {
      if (r.status == ItemStatus::kOk) r.message = e.what();
      r.status = ItemStatus::kFailed;
    }
    if (r.status == ItemStatus::kOk) {
      ++done_;
    } else {
      ++failed_;
      sink.any_failed = true;
    }
    SvdItemRecord rec{sink.source,  it.index,   1,           sink.shape.m,
                      sink.shape.n, sink.dtype, std::move(r)};
    observer_.on_item(rec);
    it.a.release();
    it.u.release();
    it.s.release();
    it.vh.release();
    budget_->release(it.bytes);
    if (--sink.remaining == 0) finalize(sink);
  }

  void write_result(Sink& sink, const WorkItem& it, const Sizes& sz) {
    std::size_t array = 0;
    const uint64_t i = static_cast<uint64_t>(it.index);
    if (!options_.svd.values_only) sink.writer->write(array++, i * sz.u, it.u.data(), sz.u);
    sink.writer->write(array++, i * sz.s, it.s.data(), sz.s);
    if (!options_.svd.values_only) sink.writer->write(array++, i * sz.vh, it.vh.data(), sz.vh);
  }

  // Every matrix of the source is done: rename its output into place.
  void finalize(Sink& sink) {
    if (!sink.writer) return;
    const std::string& out = sink.source->output;
    try {
      if (!sink.any_failed) {
        sink.writer->commit();
        std::error_code ec;
        std::filesystem::remove(incomplete_path(out), ec);
        observer_.on_output(*sink.source, out, true);
      } else if (sink.count > 1) {
        sink.writer->commit(incomplete_path(out));
        observer_.on_output(*sink.source, incomplete_path(out), false);
      }
    } catch (const std::exception& e) {
      fail_source(*sink.source, 0, e.what());
    }
    sink.writer.reset();
  }

  const std::vector<SvdSource>& sources_;
  Backend& backend_;
  const SvdRunOptions& options_;
  SvdObserver& observer_;
  BackendTraits traits_;
  std::unique_ptr<BufferPool> pool_;  // outlives every WorkItem (declared before the queues)
  std::unique_ptr<ByteBudget> budget_;
  int64_t batch_limit_ = 0;
  int writers_ = 0;                          // writer threads; 0: callers finish their own items
  WorkQueue<std::shared_ptr<Batch>> queue_;  // reader → backend callers
  WorkQueue<std::function<void()>> writes_;  // callers → writer threads
  std::atomic<int64_t> total_{0}, done_{0}, failed_{0}, skipped_{0};
};

}  // namespace

std::vector<std::string> output_arrays(const SvdOptions& opt) {
  if (opt.values_only) return {"S"};
  return {"U", "S", "Vh"};
}

std::string incomplete_path(const std::string& output) {
  const std::string suffix = ".npz";
  std::string stem = output;
  if (stem.size() >= suffix.size() &&
      stem.compare(stem.size() - suffix.size(), suffix.size(), suffix) == 0) {
    stem.resize(stem.size() - suffix.size());
  }
  return stem + ".incomplete.npz";
}

SvdRunStats run_svd_pipeline(const std::vector<SvdSource>& sources, Backend& backend,
                             const SvdRunOptions& options, SvdObserver& observer) {
  Pipeline p(sources, backend, options, observer);
  return p.run();
}

}  // namespace tandem
