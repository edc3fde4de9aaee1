// SPDX-License-Identifier: Apache-2.0
#pragma once
// One small move-only RAII class per CUDA resource, and the macros that turn CUDA and cuSOLVER
// status codes into tandem::CudaError / tandem::SolverError.

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include <cstddef>
#include <string>
#include <utility>

#include "core/error.h"

namespace tandem::cuda {

/// cuSOLVER's status as its enum name ("CUSOLVER_STATUS_INVALID_VALUE").
const char* cusolver_status_name(cusolverStatus_t s);

/// Throws CudaError "<call>: <error name> (<message>) at <file>:<line>"; clears the sticky error.
[[noreturn]] void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line);

/// Throws SolverError "<call>: <status name> at <file>:<line>".
[[noreturn]] void throw_cusolver_error(cusolverStatus_t s, const char* call, const char* file,
                                       int line);

/// Throws CudaError "<call>: <cuBLAS status name> at <file>:<line>".
[[noreturn]] void throw_cublas_error(cublasStatus_t s, const char* call, const char* file,
                                     int line);

}  // namespace tandem::cuda

/// Runs a CUDA runtime call; on failure clears the error state and throws tandem::CudaError.
#define TANDEM_CUDA_TRY(call)                                                 \
  do {                                                                        \
    cudaError_t tandem_e_ = (call);                                           \
    if (tandem_e_ != cudaSuccess)                                             \
      ::tandem::cuda::throw_cuda_error(tandem_e_, #call, __FILE__, __LINE__); \
  } while (0)

/// For destructors: runs the call and drops any error (clearing it), never throws.
#define TANDEM_CUDA_TRY_NO_THROW(call)                                \
  do {                                                                \
    if ((call) != cudaSuccess) static_cast<void>(cudaGetLastError()); \
  } while (0)

/// Runs a cuSOLVER call; throws tandem::SolverError unless it returns CUSOLVER_STATUS_SUCCESS.
#define TANDEM_CUSOLVER_TRY(call)                                                 \
  do {                                                                            \
    cusolverStatus_t tandem_s_ = (call);                                          \
    if (tandem_s_ != CUSOLVER_STATUS_SUCCESS)                                     \
      ::tandem::cuda::throw_cusolver_error(tandem_s_, #call, __FILE__, __LINE__); \
  } while (0)

/// For destructors: runs the cuSOLVER call and ignores its status.
#define TANDEM_CUSOLVER_TRY_NO_THROW(call) static_cast<void>(call)

/// Runs a cuBLAS call; throws tandem::CudaError unless it returns CUBLAS_STATUS_SUCCESS.
#define TANDEM_CUBLAS_TRY(call)                                                 \
  do {                                                                          \
    cublasStatus_t tandem_b_ = (call);                                          \
    if (tandem_b_ != CUBLAS_STATUS_SUCCESS)                                     \
      ::tandem::cuda::throw_cublas_error(tandem_b_, #call, __FILE__, __LINE__); \
  } while (0)

namespace tandem::cuda {

/// Makes `device` current for this thread during the scope, restoring the previous one after.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    TANDEM_CUDA_TRY(cudaGetDevice(&previous_));
    TANDEM_CUDA_TRY(cudaSetDevice(device));
  }
  ~DeviceScope() { TANDEM_CUDA_TRY_NO_THROW(cudaSetDevice(previous_)); }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
};

/// A non-blocking stream on the current device (never the legacy default stream).
class Stream {
 public:
  Stream() { TANDEM_CUDA_TRY(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~Stream() {
    if (s_) TANDEM_CUDA_TRY_NO_THROW(cudaStreamDestroy(s_));
  }
  Stream(Stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Stream& operator=(Stream&& o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  /// The raw stream, owned by this object.
  cudaStream_t get() const { return s_; }
  /// Blocks the calling host thread until all work queued on the stream has finished.
  void synchronize() const { TANDEM_CUDA_TRY(cudaStreamSynchronize(s_)); }

 private:
  cudaStream_t s_ = nullptr;
};

/// A CUDA event (timing enabled: benchmarks read elapsed times from it).
class Event {
 public:
  Event() { TANDEM_CUDA_TRY(cudaEventCreate(&e_)); }
  ~Event() {
    if (e_) TANDEM_CUDA_TRY_NO_THROW(cudaEventDestroy(e_));
  }
  Event(Event&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  Event& operator=(Event&& o) noexcept {
    std::swap(e_, o.e_);
    return *this;
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  /// The raw event, owned by this object.
  cudaEvent_t get() const { return e_; }
  /// Records the event on `stream`.
  void record(cudaStream_t stream) { TANDEM_CUDA_TRY(cudaEventRecord(e_, stream)); }
  /// Blocks the host until the event has completed.
  void synchronize() const { TANDEM_CUDA_TRY(cudaEventSynchronize(e_)); }

 private:
  cudaEvent_t e_ = nullptr;
};

/// A cuSOLVER dense handle bound to one stream at creation (the stream must outlive it).
class SolverHandle {
 public:
  explicit SolverHandle(cudaStream_t stream) {
    TANDEM_CUSOLVER_TRY(cusolverDnCreate(&h_));
    TANDEM_CUSOLVER_TRY(cusolverDnSetStream(h_, stream));
    TANDEM_CUSOLVER_TRY(cusolverDnCreateParams(&params_));
  }
  ~SolverHandle() {
    if (params_) TANDEM_CUSOLVER_TRY_NO_THROW(cusolverDnDestroyParams(params_));
    if (h_) TANDEM_CUSOLVER_TRY_NO_THROW(cusolverDnDestroy(h_));
  }
  SolverHandle(SolverHandle&& o) noexcept
      : h_(std::exchange(o.h_, nullptr)), params_(std::exchange(o.params_, nullptr)) {}
  SolverHandle& operator=(SolverHandle&& o) noexcept {
    std::swap(h_, o.h_);
    std::swap(params_, o.params_);
    return *this;
  }
  SolverHandle(const SolverHandle&) = delete;
  SolverHandle& operator=(const SolverHandle&) = delete;
  /// The raw handle, owned by this object.
  cusolverDnHandle_t get() const { return h_; }
  /// Default parameters for the 64-bit (X) API, owned by this object.
  cusolverDnParams_t params() const { return params_; }

 private:
  cusolverDnHandle_t h_ = nullptr;
  cusolverDnParams_t params_ = nullptr;
};

/// A cuBLAS handle bound to one stream at creation (the stream must outlive it).
class BlasHandle {
 public:
  explicit BlasHandle(cudaStream_t stream) {
    TANDEM_CUBLAS_TRY(cublasCreate(&h_));
    TANDEM_CUBLAS_TRY(cublasSetStream(h_, stream));
  }
  ~BlasHandle() {
    if (h_) static_cast<void>(cublasDestroy(h_));
  }
  BlasHandle(const BlasHandle&) = delete;
  BlasHandle& operator=(const BlasHandle&) = delete;
  /// The raw handle, owned by this object.
  cublasHandle_t get() const { return h_; }

 private:
  cublasHandle_t h_ = nullptr;
};

/// Device memory of `size()` elements of T, allocated and freed stream-ordered on one stream.
/// reserve() grows it (contents are not kept); it never shrinks until release().
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(std::size_t count, cudaStream_t stream) { reserve(count, stream); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)), stream_(o.stream_) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    std::swap(stream_, o.stream_);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  /// Makes room for at least `count` elements, ordered on `stream` (which later frees it).
  void reserve(std::size_t count, cudaStream_t stream) {
    if (count <= n_ && p_) return;
    release();
    stream_ = stream;
    void* raw = nullptr;
    TANDEM_CUDA_TRY(cudaMallocAsync(&raw, (count ? count : 1) * sizeof(T), stream));
    p_ = static_cast<T*>(raw);
    n_ = count;
  }
  /// Frees the memory (stream-ordered on the allocating stream).
  void release() noexcept {
    if (p_) TANDEM_CUDA_TRY_NO_THROW(cudaFreeAsync(p_, stream_));
    p_ = nullptr;
    n_ = 0;
  }
  /// Device pointer (nullptr when empty).
  T* data() const { return p_; }
  /// Capacity in elements.
  std::size_t size() const { return n_; }

 private:
  T* p_ = nullptr;
  std::size_t n_ = 0;
  cudaStream_t stream_ = nullptr;
};

/// Page-locked host memory of `size()` elements of T, for asynchronous copies.
template <typename T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer() { release(); }
  PinnedBuffer(PinnedBuffer&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  /// Makes room for at least `count` elements (contents are not kept). The caller must make sure
  /// no copy still reads or writes the old memory.
  void reserve(std::size_t count) {
    if (count <= n_ && p_) return;
    release();
    void* raw = nullptr;
    TANDEM_CUDA_TRY(cudaMallocHost(&raw, (count ? count : 1) * sizeof(T)));
    p_ = static_cast<T*>(raw);
    n_ = count;
  }
  /// Frees the memory.
  void release() noexcept {
    if (p_) TANDEM_CUDA_TRY_NO_THROW(cudaFreeHost(p_));
    p_ = nullptr;
    n_ = 0;
  }
  /// Host pointer (nullptr when empty).
  T* data() const { return p_; }
  /// Capacity in elements.
  std::size_t size() const { return n_; }

 private:
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

}  // namespace tandem::cuda
