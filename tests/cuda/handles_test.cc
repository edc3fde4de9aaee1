// SPDX-License-Identifier: Apache-2.0
// The error macros work without a device; the RAII classes need one.
#include "handles.h"

#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels.h"

namespace tandem::cuda {
namespace {

TEST(HandlesTest, CudaTryThrowsWithCallNameAndLocation) {
  try {
    TANDEM_CUDA_TRY(cudaErrorInvalidValue);
    FAIL() << "no exception";
  } catch (const CudaError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cudaErrorInvalidValue"), std::string::npos) << what;
    EXPECT_NE(what.find("handles_test.cc:"), std::string::npos) << what;
  }
}

TEST(HandlesTest, CusolverTryThrowsSolverErrorWithStatusName) {
  try {
    TANDEM_CUSOLVER_TRY(CUSOLVER_STATUS_INVALID_VALUE);
    FAIL() << "no exception";
  } catch (const SolverError& e) {
    EXPECT_NE(std::string(e.what()).find("CUSOLVER_STATUS_INVALID_VALUE"), std::string::npos);
  }
}

TEST(HandlesTest, SuccessDoesNotThrow) {
  EXPECT_NO_THROW(TANDEM_CUDA_TRY(cudaSuccess));
  EXPECT_NO_THROW(TANDEM_CUSOLVER_TRY(CUSOLVER_STATUS_SUCCESS));
}

TEST(HandlesTest, BuffersMoveAndRoundTrip) {
  TANDEM_REQUIRE_DEVICE();
  DeviceScope scope(0);
  Stream stream;
  SolverHandle solver(stream.get());
  DeviceBuffer<double> d(100, stream.get());
  DeviceBuffer<double> moved(std::move(d));
  EXPECT_EQ(d.data(), nullptr);
  ASSERT_NE(moved.data(), nullptr);
  PinnedBuffer<double> h;
  h.reserve(100);
  for (int i = 0; i < 100; ++i) h.data()[i] = i;
  TANDEM_CUDA_TRY(
      cudaMemcpyAsync(moved.data(), h.data(), 800, cudaMemcpyHostToDevice, stream.get()));
  PinnedBuffer<double> back;
  back.reserve(100);
  TANDEM_CUDA_TRY(
      cudaMemcpyAsync(back.data(), moved.data(), 800, cudaMemcpyDeviceToHost, stream.get()));
  Event done;
  done.record(stream.get());
  done.synchronize();
  for (int i = 0; i < 100; ++i) EXPECT_EQ(back.data()[i], i);
}

TEST(KernelsTest, ScanFlagsAndZeroesOnlyNonFiniteMatrices) {
  TANDEM_REQUIRE_DEVICE();
  DeviceScope scope(0);
  Stream stream;
  const int count = 3, elems = 1000;
  PinnedBuffer<float> h;
  h.reserve(count * elems);
  for (int i = 0; i < count * elems; ++i) h.data()[i] = 1.0f;
  h.data()[elems + 999] = INFINITY;
  DeviceBuffer<float> d(count * elems, stream.get());
  DeviceBuffer<int> flags(count, stream.get());
  TANDEM_CUDA_TRY(
      cudaMemcpyAsync(d.data(), h.data(), 4 * count * elems, cudaMemcpyHostToDevice, stream.get()));
  scan_and_zero_nonfinite<float>(d.data(), elems, count, flags.data(), stream.get());
  int hf[count];
  TANDEM_CUDA_TRY(
      cudaMemcpyAsync(hf, flags.data(), sizeof hf, cudaMemcpyDeviceToHost, stream.get()));
  TANDEM_CUDA_TRY(
      cudaMemcpyAsync(h.data(), d.data(), 4 * count * elems, cudaMemcpyDeviceToHost, stream.get()));
  stream.synchronize();
  EXPECT_EQ(hf[0], 0);
  EXPECT_EQ(hf[1], 1);
  EXPECT_EQ(hf[2], 0);
  EXPECT_EQ(h.data()[elems], 0.0f);
  EXPECT_EQ(h.data()[0], 1.0f);
}

}  // namespace
}  // namespace tandem::cuda
