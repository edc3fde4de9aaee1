// SPDX-License-Identifier: Apache-2.0
// The entry point host/backend_registry.cc looks up after loading this module.
#include "cuda_api.h"

extern "C" __attribute__((visibility("default"))) const tandem::cuda::CudaPlugin*
tandem_cuda_plugin() {
  static const tandem::cuda::CudaPlugin kPlugin{
      tandem::cuda::kCudaPluginAbi,   &tandem::cuda::list_devices,
      &tandem::cuda::versions,        &tandem::cuda::make_cuda_backend,
      tandem::cuda::kMaxSmoothRadius, &tandem::cuda::smooth_volumes_gpu};
  return &kPlugin;
}
