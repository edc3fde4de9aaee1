// SPDX-License-Identifier: Apache-2.0
// An empty libcuda.so.1: the registry's "is there a driver?" probe finds it, so that the fake
// CUDA module (fake_cuda_plugin.cc) gets loaded. Nothing calls into it.
extern "C" int tandem_fake_libcuda() { return 0; }
