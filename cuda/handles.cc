// SPDX-License-Identifier: Apache-2.0
#include "handles.h"

#include <cstring>
#include <string>

namespace tandem::cuda {

namespace {

// __FILE__ is an absolute build path; the file name is enough to find the call.
const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

}  // namespace

const char* cusolver_status_name(cusolverStatus_t s) {
  switch (s) {
    case CUSOLVER_STATUS_SUCCESS:
      return "CUSOLVER_STATUS_SUCCESS";
    case CUSOLVER_STATUS_NOT_INITIALIZED:
      return "CUSOLVER_STATUS_NOT_INITIALIZED";
    case CUSOLVER_STATUS_ALLOC_FAILED:
      return "CUSOLVER_STATUS_ALLOC_FAILED";
    case CUSOLVER_STATUS_INVALID_VALUE:
      return "CUSOLVER_STATUS_INVALID_VALUE";
    case CUSOLVER_STATUS_ARCH_MISMATCH:
      return "CUSOLVER_STATUS_ARCH_MISMATCH";
    case CUSOLVER_STATUS_MAPPING_ERROR:
      return "CUSOLVER_STATUS_MAPPING_ERROR";
    case CUSOLVER_STATUS_EXECUTION_FAILED:
      return "CUSOLVER_STATUS_EXECUTION_FAILED";
    case CUSOLVER_STATUS_INTERNAL_ERROR:
      return "CUSOLVER_STATUS_INTERNAL_ERROR";
    case CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED:
      return "CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED";
    case CUSOLVER_STATUS_NOT_SUPPORTED:
      return "CUSOLVER_STATUS_NOT_SUPPORTED";
    case CUSOLVER_STATUS_ZERO_PIVOT:
      return "CUSOLVER_STATUS_ZERO_PIVOT";
    case CUSOLVER_STATUS_INVALID_LICENSE:
      return "CUSOLVER_STATUS_INVALID_LICENSE";
    case CUSOLVER_STATUS_IRS_PARAMS_INVALID:
      return "CUSOLVER_STATUS_IRS_PARAMS_INVALID";
    case CUSOLVER_STATUS_INVALID_WORKSPACE:
      return "CUSOLVER_STATUS_INVALID_WORKSPACE";
    default:
      return "CUSOLVER_STATUS_UNKNOWN";
  }
}

void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line) {
  // Clear the error so the next call on this thread does not see it again (sticky errors,
  // such as an illegal address, stay and make the backend unusable, as they should).
  static_cast<void>(cudaGetLastError());
  throw CudaError(std::string(call) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) +
                  ") at " + base_name(file) + ":" + std::to_string(line));
}

void throw_cusolver_error(cusolverStatus_t s, const char* call, const char* file, int line) {
  throw SolverError(std::string(call) + ": " + cusolver_status_name(s) + " at " + base_name(file) +
                    ":" + std::to_string(line));
}

void throw_cublas_error(cublasStatus_t s, const char* call, const char* file, int line) {
  throw CudaError(std::string(call) + ": " + cublasGetStatusName(s) + " at " + base_name(file) +
                  ":" + std::to_string(line));
}

}  // namespace tandem::cuda
