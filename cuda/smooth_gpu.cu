// SPDX-License-Identifier: Apache-2.0
// Separable Gaussian passes on the GPU, matching host/smooth/separable_filter.cc bit for bit.
#include <algorithm>
#include <vector>

#include "handles.h"
#include "smooth_gpu.h"

namespace tandem::cuda {

namespace {

__constant__ double c_weights[3][kMaxSmoothRadius + 1];

__device__ __forceinline__ int reflect(int i, int n) {
  const int period = 2 * n;
  int m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

// One output voxel per thread; blocks tile x and y, the grid's z strides over the slices of all
// volumes. The _rn intrinsics keep every multiply and add separately rounded (no FMA) and in the
// host's order, whatever --fmad says. Voxels further than `radius` from both ends of the axis
// (nearly all of them) skip the reflection arithmetic.
__global__ void gaussian_pass(const float* __restrict__ in, float* __restrict__ out, int nx, int ny,
                              int nz, long long slices, int axis, int radius) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= nx || y >= ny) return;
  const double* w = c_weights[axis];
  const int n = axis == 0 ? nx : axis == 1 ? ny : nz;
  const long long stride = axis == 0 ? 1 : axis == 1 ? nx : static_cast<long long>(nx) * ny;
  for (long long s = blockIdx.z; s < slices; s += gridDim.z) {
    const int z = static_cast<int>(s % nz);
    const int p = axis == 0 ? x : axis == 1 ? y : z;
    const long long i = (s * ny + y) * static_cast<long long>(nx) + x;
    const float* c = in + i;
    double acc = __dmul_rn(static_cast<double>(c[0]), w[0]);
    if (p >= radius && p + radius < n) {
      for (int k = radius; k >= 1; --k) {
        const double lo = c[-k * stride], hi = c[k * stride];
        acc = __dadd_rn(acc, __dmul_rn(__dadd_rn(lo, hi), w[k]));
      }
    } else {
      for (int k = radius; k >= 1; --k) {
        const double lo = c[(reflect(p - k, n) - p) * stride];
        const double hi = c[(reflect(p + k, n) - p) * stride];
        acc = __dadd_rn(acc, __dmul_rn(__dadd_rn(lo, hi), w[k]));
      }
    }
    out[i] = __double2float_rn(acc);
  }
}

// Page-locks a host range for the call; leaves memory someone else registered alone.
class HostRegistration {
 public:
  HostRegistration(const void* p, std::size_t bytes) : p_(const_cast<void*>(p)) {
    cudaError_t e = cudaHostRegister(p_, bytes, cudaHostRegisterDefault);
    if (e == cudaErrorHostMemoryAlreadyRegistered) {
      static_cast<void>(cudaGetLastError());
      p_ = nullptr;
    } else {
      TANDEM_CUDA_TRY(e);
    }
  }
  ~HostRegistration() {
    if (p_) TANDEM_CUDA_TRY_NO_THROW(cudaHostUnregister(p_));
  }
  HostRegistration(const HostRegistration&) = delete;
  HostRegistration& operator=(const HostRegistration&) = delete;

 private:
  void* p_;
};

// Copies the weights into constant memory on `stream` and waits for them: a plain
// cudaMemcpyToSymbol runs on the legacy default stream, which does not order the non-blocking
// streams the passes run on, and from pageable memory it may return before its DMA is done.
void upload_weights(const std::array<SmoothAxis, 3>& axes, cudaStream_t stream) {
  for (int a = 0; a < 3; ++a) {
    const SmoothAxis& ax = axes[static_cast<std::size_t>(a)];
    if (ax.radius <= 0) continue;
    if (ax.radius > kMaxSmoothRadius ||
        ax.weights.size() != static_cast<std::size_t>(ax.radius) + 1) {
      throw Error("GPU smoothing: kernel radius " + std::to_string(ax.radius) +
                  " is unsupported or its weights are missing");
    }
    TANDEM_CUDA_TRY(cudaMemcpyToSymbolAsync(
        c_weights, ax.weights.data(), ax.weights.size() * sizeof(double),
        static_cast<std::size_t>(a) * (kMaxSmoothRadius + 1) * sizeof(double),
        cudaMemcpyHostToDevice, stream));
  }
  TANDEM_CUDA_TRY(cudaStreamSynchronize(stream));
}

// Waits for the streams when it goes out of scope, also when an exception leaves the scope:
// copies still queued must not outlive the page-locking of, or the caller's, host buffers.
class StreamsDrain {
 public:
  StreamsDrain(const Stream* streams, int count) : streams_(streams), count_(count) {}
  ~StreamsDrain() {
    for (int i = 0; i < count_; ++i)
      TANDEM_CUDA_TRY_NO_THROW(cudaStreamSynchronize(streams_[i].get()));
  }
  StreamsDrain(const StreamsDrain&) = delete;
  StreamsDrain& operator=(const StreamsDrain&) = delete;

 private:
  const Stream* streams_;
  int count_;
};

// gridDim.y is limited to 65535 blocks of 8 rows.
void check_grid(const VolumeShape& s) {
  if ((s.ny + 7) / 8 > 65535 || s.nx > (std::int64_t(1) << 31) - 32) {
    throw Error("GPU smoothing: a " + std::to_string(s.nx) + "x" + std::to_string(s.ny) +
                " slice is larger than the GPU passes take");
  }
}

// Runs the active passes over `volumes` volumes: src -> ... -> dst, alternating with tmp so the
// last pass lands in dst. With no active axis, copies.
void run_passes(const float* src, float* dst, float* tmp, const VolumeShape& s,
                std::int64_t volumes, const std::array<SmoothAxis, 3>& axes, cudaStream_t stream) {
  const long long slices = s.nz * volumes;
  int passes = 0;
  for (const auto& a : axes) passes += a.radius > 0;
  if (passes == 0) {
    TANDEM_CUDA_TRY(cudaMemcpyAsync(dst, src, s.voxels() * volumes * sizeof(float),
                                    cudaMemcpyDeviceToDevice, stream));
    return;
  }
  const dim3 block(32, 8);
  const dim3 grid(static_cast<unsigned>((s.nx + 31) / 32), static_cast<unsigned>((s.ny + 7) / 8),
                  static_cast<unsigned>(std::min<long long>(slices, 65535)));
  int done = 0;
  for (int a = 0; a < 3; ++a) {
    const int r = axes[static_cast<std::size_t>(a)].radius;
    if (r <= 0) continue;
    float* out = ((passes - 1 - done) % 2 == 0) ? dst : tmp;
    gaussian_pass<<<grid, block, 0, stream>>>(src, out, static_cast<int>(s.nx),
                                              static_cast<int>(s.ny), static_cast<int>(s.nz),
                                              slices, a, r);
    TANDEM_CUDA_TRY(cudaGetLastError());
    src = out;
    ++done;
  }
}

}  // namespace

int smooth_device_count(std::string* why) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    static_cast<void>(cudaGetLastError());
    if (why) *why = cudaGetErrorString(e);
    return 0;
  }
  if (n == 0 && why) *why = "no CUDA device is visible";
  return n;
}

void smooth_volumes_gpu(const float* in, float* out, const VolumeShape& shape, std::int64_t volumes,
                        const std::array<SmoothAxis, 3>& axes, int device) {
  if (volumes <= 0 || shape.voxels() == 0) return;
  DeviceScope scope(device);
  check_grid(shape);
  const std::size_t vol = shape.voxels();
  const std::size_t total_bytes = vol * static_cast<std::size_t>(volumes) * sizeof(float);
  HostRegistration pin_in(in, total_bytes), pin_out(out, total_bytes);
  // Chunks of ~128 MiB: big enough to keep the GPU busy, two in flight.
  const std::int64_t per_chunk =
      std::max<std::int64_t>(1, static_cast<std::int64_t>((128u << 20) / (vol * sizeof(float))));
  Stream streams[2];
  upload_weights(axes, streams[0].get());
  // Declared after the streams and the page-locked ranges, before the buffers: it waits for the
  // copies (and the buffers' stream-ordered frees) before any of those go.
  const StreamsDrain drain(streams, 2);
  DeviceBuffer<float> a[2], b[2], tmp[2];
  for (int i = 0; i < 2; ++i) {
    a[i].reserve(vol * static_cast<std::size_t>(per_chunk), streams[i].get());
    b[i].reserve(vol * static_cast<std::size_t>(per_chunk), streams[i].get());
    tmp[i].reserve(vol * static_cast<std::size_t>(per_chunk), streams[i].get());
  }
  for (std::int64_t first = 0, c = 0; first < volumes; first += per_chunk, ++c) {
    const int k = static_cast<int>(c % 2);
    const std::int64_t n = std::min(per_chunk, volumes - first);
    const std::size_t offset = static_cast<std::size_t>(first) * vol;
    const std::size_t bytes = static_cast<std::size_t>(n) * vol * sizeof(float);
    cudaStream_t s = streams[k].get();
    TANDEM_CUDA_TRY(cudaMemcpyAsync(a[k].data(), in + offset, bytes, cudaMemcpyHostToDevice, s));
    run_passes(a[k].data(), b[k].data(), tmp[k].data(), shape, n, axes, s);
    TANDEM_CUDA_TRY(cudaMemcpyAsync(out + offset, b[k].data(), bytes, cudaMemcpyDeviceToHost, s));
  }
  streams[0].synchronize();
  streams[1].synchronize();
}

double time_gpu_passes_ms(const VolumeShape& shape, std::int64_t volumes,
                          const std::array<SmoothAxis, 3>& axes, int repeats, int device) {
  DeviceScope scope(device);
  check_grid(shape);
  Stream stream;
  upload_weights(axes, stream.get());
  const StreamsDrain drain(&stream, 1);
  const std::size_t n = shape.voxels() * static_cast<std::size_t>(volumes);
  DeviceBuffer<float> src(n, stream.get()), dst(n, stream.get()), tmp(n, stream.get());
  TANDEM_CUDA_TRY(cudaMemsetAsync(src.data(), 0, n * sizeof(float), stream.get()));
  Event start, stop;
  std::vector<float> ms;
  for (int r = 0; r < std::max(repeats, 1) + 1; ++r) {
    start.record(stream.get());
    run_passes(src.data(), dst.data(), tmp.data(), shape, volumes, axes, stream.get());
    stop.record(stream.get());
    stop.synchronize();
    float t = 0;
    TANDEM_CUDA_TRY(cudaEventElapsedTime(&t, start.get(), stop.get()));
    if (r > 0) ms.push_back(t);  // the first run warms up
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace tandem::cuda
