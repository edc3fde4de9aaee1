// SPDX-License-Identifier: Apache-2.0
#include "gpu_worker.h"

#include <cstring>

#include "device_check.h"
#include "gram_route.h"
#include "kernels.h"

namespace tandem::cuda {

namespace {

// Makes the device current before the members that live on it are built.
int make_current(int device) {
  TANDEM_CUDA_TRY(cudaSetDevice(device));
  return device;
}

template <typename T>
T* typed(const DeviceBuffer<char>& b) {
  return reinterpret_cast<T*>(b.data());
}

// Per-item element counts of the device buffers (in elements of the task's type).
struct ItemSizes {
  int64_t in, w, s, u, v, out_u, out_vh;
  int64_t total() const { return in + w + s + u + v + out_u + out_vh; }
};

ItemSizes item_sizes(const Geometry& g) {
  ItemSizes z{};
  z.in = g.elems();
  z.w = g.transposed ? g.elems() : 0;
  z.s = g.k;
  // Allocated even for singular values only: Xgesvdp has been seen to touch U and V with
  // jobz = NOVECTOR (illegal accesses reported against CUDA 12.x; assumed still so in 13.0),
  // and the batched Jacobi leaves it undocumented.
  z.u = g.p * g.w_u_cols;
  z.v = g.q * g.q;
  z.out_u = g.vectors ? g.m * g.uc : 0;
  z.out_vh = g.vectors ? g.vr * g.n : 0;
  return z;
}

}  // namespace

Geometry make_geometry(const SvdShape& shape, const SvdOptions& opt, Route route) {
  Geometry g;
  g.m = shape.m;
  g.n = shape.n;
  g.k = shape.k();
  g.transposed = shape.m > shape.n;
  g.p = g.transposed ? shape.m : shape.n;
  g.q = g.transposed ? shape.n : shape.m;
  g.vectors = !opt.values_only;
  // Singular values only: economy keeps the never-read Uw p×q rather than p×p.
  g.econ = !opt.full_matrices || opt.values_only;
  // gesvdjBatched always returns the full Uw; our Jacobi kernel only the q columns it rotates.
  if (route == Route::kGesvdjBatched) {
    g.w_u_cols = g.p;
  } else if (route == Route::kJacobiKernel || route == Route::kGram) {
    g.w_u_cols = g.q;
  } else {
    g.w_u_cols = g.econ ? g.q : g.p;
  }
  g.uc = shape.u_cols(opt);
  g.vr = shape.vh_rows(opt);
  return g;
}

std::size_t chunk_bytes(const SvdShape& shape, DType dtype, const SvdOptions& opt, Route route,
                        int count) {
  const Geometry g = make_geometry(shape, opt, route);
  const ItemSizes z = item_sizes(g);
  std::size_t buffers = std::size_t(count) * std::size_t(z.total()) * dtype_size(dtype);
  if (route == Route::kGram) buffers += std::size_t(count) * gram_scratch_bytes(g.p, g.q);
  if (opt.check && g.vectors) {
    // A's pristine copy and the float64 work matrices of the device check.
    buffers += std::size_t(count) * std::size_t(z.in) * dtype_size(dtype) +
               check_scratch_bytes(shape, opt, dtype, count);
  }
  // cuSOLVER's workspaces are of the order of the matrices themselves; allow as much again
  // plus a fixed reserve, rather than query a handle before any buffer exists.
  return 2 * buffers + (std::size_t(64) << 20);
}

GpuWorker::GpuWorker(int device)
    : device_(make_current(device)), stream_(), solver_(stream_.get()) {}

GpuWorker::~GpuWorker() {
  // Members are destroyed after this body: make their device current for their frees.
  TANDEM_CUDA_TRY_NO_THROW(cudaSetDevice(device_));
  TANDEM_CUDA_TRY_NO_THROW(cudaStreamSynchronize(stream_.get()));
}

std::size_t GpuWorker::bytes_held() const {
  return in_.size() + w_.size() + s_.size() + u_.size() + v_.size() + out_u_.size() +
         out_vh_.size() + workspace_.device.size() + workspace_.scratch.size() +
         status_.size() * sizeof(int) + check_a_.size() +
         (check_scratch_.size() + check_out_.size()) * sizeof(double);
}

void GpuWorker::release() {
  TANDEM_CUDA_TRY(cudaSetDevice(device_));
  stream_.synchronize();
  for (DeviceBuffer<char>* b : {&in_, &w_, &s_, &u_, &v_, &out_u_, &out_vh_, &workspace_.device,
                                &workspace_.scratch, &check_a_}) {
    b->release();
  }
  status_.release();
  check_scratch_.release();
  check_out_.release();
  stream_.synchronize();
}

template <typename T>
void GpuWorker::reserve(const Geometry& g, int count) {
  const ItemSizes z = item_sizes(g);
  const cudaStream_t st = stream_.get();
  const std::size_t c = std::size_t(count), e = sizeof(T);
  in_.reserve(c * z.in * e, st);
  w_.reserve(c * z.w * e, st);
  s_.reserve(c * z.s * e, st);
  u_.reserve(c * z.u * e, st);
  v_.reserve(c * z.v * e, st);
  out_u_.reserve(c * z.out_u * e, st);
  out_vh_.reserve(c * z.out_vh * e, st);
  status_.reserve(3 * c, st);
  // The previous chunk's copies finished at its final synchronize, so pinned memory is free.
  staging_in_.reserve(c * z.in * e);
  staging_out_.reserve(c * (z.out_u + z.s + z.out_vh) * e);
  staging_status_.reserve(3 * c);
}

std::vector<int> GpuWorker::solve(const SvdTask* tasks, int count, Route route,
                                  const SvdOptions& opt, std::vector<CheckMetrics>* checks) {
  TANDEM_CUDA_TRY(cudaSetDevice(device_));
  try {
    if (tasks[0].dtype == DType::kFloat64) {
      return solve_typed<double>(tasks, count, route, opt, checks);
    }
    return solve_typed<float>(tasks, count, route, opt, checks);
  } catch (...) {
    // Copies queued before the failure may still touch the staging buffers: let them finish
    // before anyone reuses them.
    TANDEM_CUDA_TRY_NO_THROW(cudaStreamSynchronize(stream_.get()));
    throw;
  }
}

template <typename T>
std::vector<int> GpuWorker::solve_typed(const SvdTask* tasks, int count, Route route,
                                        const SvdOptions& opt, std::vector<CheckMetrics>* checks) {
  const Geometry g = make_geometry(tasks[0].shape, opt, route);
  const bool check = checks != nullptr && g.vectors;
  reserve<T>(g, count);
  SolveArgs<T> args;
  args.p = g.p;
  args.q = g.q;
  args.vectors = g.vectors;
  args.econ = g.econ;
  args.count = count;
  args.w = stage_in<T>(tasks, count, g);
  args.s = typed<T>(s_);
  args.u = typed<T>(u_);
  args.v = typed<T>(v_);
  args.info = status_.data() + count;
  const cudaStream_t st = stream_.get();
  const std::size_t in_bytes = std::size_t(count) * std::size_t(g.elems()) * sizeof(T);
  if (check) {
    // The solvers overwrite W (A itself for wide and square inputs): keep A for the residual.
    check_a_.reserve(in_bytes, st);
    TANDEM_CUDA_TRY(
        cudaMemcpyAsync(check_a_.data(), in_.data(), in_bytes, cudaMemcpyDeviceToDevice, st));
  }
  route_solve<T>(route, solver_, workspace_, st, args);
  stage_out<T>(g, route, args, opt.canonical_signs);
  if (check) {
    // One cuBLAS handle per worker for the Gram route and the check alike: each handle keeps
    // a workspace of its own on the device, which chunk planning does not count.
    if (!workspace_.blas) workspace_.blas = std::make_unique<BlasHandle>(st);
    const SvdShape shape = tasks[0].shape;
    check_scratch_.reserve(check_scratch_bytes(shape, opt, tasks[0].dtype, count) / sizeof(double),
                           st);
    check_out_.reserve(std::size_t(count) * kCheckValues, st);
    staging_check_.reserve(std::size_t(count) * kCheckValues);
    check_chunk<T>(*workspace_.blas, shape, opt, count, reinterpret_cast<const T*>(check_a_.data()),
                   typed<T>(out_u_), args.s, typed<T>(out_vh_), check_scratch_.data(),
                   check_out_.data(), st);
    TANDEM_CUDA_TRY(cudaMemcpyAsync(staging_check_.data(), check_out_.data(),
                                    std::size_t(count) * kCheckValues * sizeof(double),
                                    cudaMemcpyDeviceToHost, st));
  }
  stream_.synchronize();
  if (check) {
    checks->clear();
    for (int i = 0; i < count; ++i) {
      checks->push_back(check_metrics(staging_check_.data() + std::size_t(i) * kCheckValues));
    }
  }
  return deliver<T>(tasks, count, g);
}

// Host → pinned → device, NaN/Inf scan; returns W (a tall A transposed so W is never wide).
template <typename T>
T* GpuWorker::stage_in(const SvdTask* tasks, int count, const Geometry& g) {
  const ItemSizes z = item_sizes(g);
  const cudaStream_t st = stream_.get();
  T* h_in = reinterpret_cast<T*>(staging_in_.data());
  for (int i = 0; i < count; ++i) std::memcpy(h_in + i * z.in, tasks[i].a, z.in * sizeof(T));
  T* d_in = typed<T>(in_);
  TANDEM_CUDA_TRY(
      cudaMemcpyAsync(d_in, h_in, count * z.in * sizeof(T), cudaMemcpyHostToDevice, st));
  // Status: input NaN/Inf flags, then infos, then output NaN/Inf flags.
  TANDEM_CUDA_TRY(cudaMemsetAsync(status_.data() + count, 0, 2 * count * sizeof(int), st));
  scan_and_zero_nonfinite<T>(d_in, z.in, count, status_.data(), st);
  if (!g.transposed) return d_in;  // row-major A is column-major Aᵀ (n×m)
  T* w = typed<T>(w_);
  copy_2d<T>(View<const T>{d_in, g.n, 1, z.in}, View<T>{w, 1, g.m, z.in}, g.m, g.n, count, st);
  return w;
}

// Rearranges the solver's outputs into numpy's row-major U, S, Vh and queues them home.
template <typename T>
void GpuWorker::stage_out(const Geometry& g, Route route, const SolveArgs<T>& args,
                          bool canonical) {
  const ItemSizes z = item_sizes(g);
  const cudaStream_t st = stream_.get();
  const int count = args.count;
  int* bad_out = status_.data() + 2 * count;
  T* h_u = reinterpret_cast<T*>(staging_out_.data());
  T* h_s = h_u + count * z.out_u;
  T* h_vh = h_s + count * z.s;
  if (g.vectors) {
    // Uw(i, j) = u[i + j·p]; Vw(i, j) = v[i + j·q], or v[j + i·q] when the route returns Vᵀ.
    const View<const T> uw{args.u, 1, g.p, z.u};
    const View<const T> vw = route_v_is_transposed(route) ? View<const T>{args.v, g.q, 1, z.v}
                                                          : View<const T>{args.v, 1, g.q, z.v};
    const View<const T> src_u = g.transposed ? uw : vw;
    View<const T> src_vh = g.transposed ? vw : uw;
    std::swap(src_vh.row_stride, src_vh.col_stride);  // numpy's Vh is the transpose
    copy_2d<T>(src_u, View<T>{typed<T>(out_u_), g.uc, 1, z.out_u}, g.m, g.uc, count, st);
    copy_2d<T>(src_vh, View<T>{typed<T>(out_vh_), g.n, 1, z.out_vh}, g.vr, g.n, count, st);
    // --canonical-signs where the vectors already are, before they are copied out.
    if (canonical) {
      canonicalize_signs_gpu<T>(typed<T>(out_u_), typed<T>(out_vh_), g.m, g.uc, g.n, g.vr, g.k,
                                z.out_u, z.out_vh, count, st);
    }
    flag_nonfinite<T>(typed<T>(out_u_), z.out_u, count, bad_out, st);
    flag_nonfinite<T>(typed<T>(out_vh_), z.out_vh, count, bad_out, st);
    TANDEM_CUDA_TRY(cudaMemcpyAsync(h_u, out_u_.data(), count * z.out_u * sizeof(T),
                                    cudaMemcpyDeviceToHost, st));
    TANDEM_CUDA_TRY(cudaMemcpyAsync(h_vh, out_vh_.data(), count * z.out_vh * sizeof(T),
                                    cudaMemcpyDeviceToHost, st));
  }
  // A solver that reports success with NaN or Inf in its output (a polar iteration on a
  // degenerate matrix could) must not pass; the item is then redone on an exact route.
  flag_nonfinite<T>(args.s, z.s, count, bad_out, st);
  TANDEM_CUDA_TRY(
      cudaMemcpyAsync(h_s, args.s, count * z.s * sizeof(T), cudaMemcpyDeviceToHost, st));
  TANDEM_CUDA_TRY(cudaMemcpyAsync(staging_status_.data(), status_.data(), 3 * count * sizeof(int),
                                  cudaMemcpyDeviceToHost, st));
}

// After the stream has finished: per-item status, and the results of the good items copied
// from pinned memory into the caller's buffers.
template <typename T>
std::vector<int> GpuWorker::deliver(const SvdTask* tasks, int count, const Geometry& g) {
  const ItemSizes z = item_sizes(g);
  const T* h_u = reinterpret_cast<const T*>(staging_out_.data());
  const T* h_s = h_u + count * z.out_u;
  const T* h_vh = h_s + count * z.s;
  const int* h_flags = staging_status_.data();
  const int* h_info = h_flags + count;
  const int* h_bad = h_flags + 2 * count;
  std::vector<int> out(count, 0);
  for (int i = 0; i < count; ++i) {
    out[i] = h_flags[i] ? kNonFinite : h_info[i] != 0 ? h_info[i] : h_bad[i] ? kBadOutput : 0;
    if (out[i] != 0) continue;
    std::memcpy(tasks[i].s, h_s + i * z.s, z.s * sizeof(T));
    if (!g.vectors) continue;
    std::memcpy(tasks[i].u, h_u + i * z.out_u, z.out_u * sizeof(T));
    std::memcpy(tasks[i].vh, h_vh + i * z.out_vh, z.out_vh * sizeof(T));
  }
  return out;
}

template std::vector<int> GpuWorker::solve_typed<float>(const SvdTask*, int, Route,
                                                        const SvdOptions&,
                                                        std::vector<CheckMetrics>*);
template std::vector<int> GpuWorker::solve_typed<double>(const SvdTask*, int, Route,
                                                         const SvdOptions&,
                                                         std::vector<CheckMetrics>*);

}  // namespace tandem::cuda
