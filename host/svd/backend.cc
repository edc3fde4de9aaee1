// SPDX-License-Identifier: Apache-2.0
#include "svd/backend.h"

#include <new>

#include "core/error.h"

namespace tandem {

Algorithm parse_algorithm(const std::string& name) {
  if (name == "auto") return Algorithm::kAuto;
  if (name == "jacobi") return Algorithm::kJacobi;
  if (name == "polar") return Algorithm::kPolar;
  if (name == "qr") return Algorithm::kQr;
  if (name == "gram") return Algorithm::kGram;
  throw UsageError("--algorithm: '" + name + "' is not one of auto, jacobi, polar, qr, gram");
}

std::string item_failure_message(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e)) {
    return "out of memory (the matrix, its outputs and the solver's workspace did not fit)";
  }
  return e.what();
}

std::string algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::kAuto:
      return "auto";
    case Algorithm::kJacobi:
      return "jacobi";
    case Algorithm::kPolar:
      return "polar";
    case Algorithm::kQr:
      return "qr";
    case Algorithm::kGram:
      return "gram";
  }
  return "auto";
}

void Backend::svd_streamed(const std::vector<SvdTask>& batch, const SvdOptions& opt,
                           const ItemDone& done) {
  std::vector<ItemResult> results = svd(batch, opt);
  for (std::size_t i = 0; i < results.size(); ++i) done(i, std::move(results[i]));
}

DeviceChoice parse_device(const std::string& name) {
  if (name == "auto") return DeviceChoice::kAuto;
  if (name == "cpu") return DeviceChoice::kCpu;
  if (name == "gpu") return DeviceChoice::kGpu;
  throw UsageError("--device: '" + name + "' is not one of auto, cpu, gpu");
}

}  // namespace tandem
