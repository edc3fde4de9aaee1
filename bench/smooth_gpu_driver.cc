// SPDX-License-Identifier: Apache-2.0
// Times tandem smooth's three GPU passes alone (cuda::time_gpu_passes_ms: CUDA events around the
// x, y and z passes over a float32 series already on the device, median of the repeats) and
// prints one JSON object with the card's name and its peak memory bandwidth, from which
// bench/smooth computes the memory-bound floor. Without a device it prints why and exits 3.
// Usage: smooth_gpu_driver [--shape NX,NY,NZ,NT] [--voxel MM] [--fwhm MM] [--repeats R]
#include <cuda_runtime.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "driver_args.h"
#include "smooth/gaussian_kernel.h"
#include "smooth_gpu.h"

namespace {

struct Args {
  std::vector<std::int64_t> shape{64, 64, 40, 200};
  double voxel_mm = 3.0, fwhm_mm = 6.0;
  int repeats = 20;
};

Args parse(int argc, char** argv) {
  Args a;
  tandem::bench::for_each_option(argc, argv, [&a](const std::string& k, auto value) {
    if (k == "--shape") {
      a.shape.clear();
      std::stringstream ss(value());
      for (std::string part; std::getline(ss, part, ',');) a.shape.push_back(std::stoll(part));
      if (a.shape.size() != 4) throw tandem::UsageError("--shape: give NX,NY,NZ,NT");
    } else if (k == "--voxel") {
      a.voxel_mm = std::stod(value());
    } else if (k == "--fwhm") {
      a.fwhm_mm = std::stod(value());
    } else if (k == "--repeats") {
      a.repeats = std::stoi(value());
    } else {
      return false;
    }
    return true;
  });
  return a;
}

// 2 × memory clock × bus width: the figure NVIDIA's bandwidthTest and spec sheets give.
double peak_bandwidth_gbs(int device) {
  int clock_khz = 0, bus_bits = 0;
  if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device) != cudaSuccess) {
    static_cast<void>(cudaGetLastError());
    return 0;
  }
  return 2.0 * clock_khz * 1e3 * (bus_bits / 8.0) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse(argc, argv);
    std::string why;
    if (tandem::cuda::smooth_device_count(&why) == 0) {
      std::printf("%s\n", nlohmann::json{{"skipped", "no CUDA device: " + why}}.dump().c_str());
      return 3;
    }
    const tandem::VolumeShape shape{a.shape[0], a.shape[1], a.shape[2]};
    const std::array<double, 3> sigma = tandem::sigmas_in_voxels(
        {a.fwhm_mm, a.fwhm_mm, a.fwhm_mm}, {a.voxel_mm, a.voxel_mm, a.voxel_mm});
    std::array<tandem::cuda::SmoothAxis, 3> axes;
    std::vector<int> radius;
    for (std::size_t i = 0; i < 3; ++i) {
      const tandem::GaussianKernel k = tandem::make_gaussian_kernel(sigma[i]);
      axes[i].radius = k.radius;
      axes[i].weights = k.weights;
      radius.push_back(k.radius);
    }
    const double ms = tandem::cuda::time_gpu_passes_ms(shape, a.shape[3], axes, a.repeats);
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) static_cast<void>(cudaGetLastError());
    const double bytes = static_cast<double>(shape.voxels()) * static_cast<double>(a.shape[3]) * 4;
    const double peak = peak_bandwidth_gbs(0);
    nlohmann::json out = {{"device", prop.name},
                          {"shape", a.shape},
                          {"sigma_voxels", sigma},
                          {"radius", radius},
                          {"repeats", a.repeats},
                          {"passes_ms", ms},
                          {"series_bytes", bytes},
                          {"peak_bandwidth_gbs", peak},
                          // Three passes, each reading and writing the whole series once.
                          {"floor_ms", peak > 0 ? 6 * bytes / (peak * 1e9) * 1e3 : 0.0}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "smooth_gpu_driver: error: %s\n", e.what());
    return 1;
  }
}
