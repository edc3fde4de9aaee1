// SPDX-License-Identifier: Apache-2.0
#include "svd/serial_baseline.h"

#include <chrono>

#include "core/error.h"
#include "core/interrupt.h"
#include "svd/blas_threads.h"
#include "svd/cpu_backend.h"

namespace tandem {

double time_serial_loop(const std::vector<SvdSource>& sources, const SvdOptions& opt,
                        int blas_threads) {
  CpuBackend cpu(1);
  set_blas_threads(blas_threads);
  double seconds = 0;
  for (const SvdSource& src : sources) {
    std::unique_ptr<io::MatrixStack> stack;
    try {
      stack = src.open();
    } catch (const InputError&) {
      continue;
    }
    SvdShape sh{stack->rows(), stack->cols()};
    const std::size_t e = dtype_size(stack->dtype());
    std::vector<unsigned char> a(sh.m * sh.n * e), u(sh.u_elems(opt) * e), s(sh.k() * e),
        vh(sh.vh_elems(opt) * e);
    for (int64_t i = 0; i < stack->count() && !interrupted(); ++i) {
      stack->read(i, a.data());  // reading is outside the timed region, as for an in-memory list
      SvdTask t{stack->dtype(), sh, a.data(), u.data(), s.data(), vh.data()};
      auto t0 = std::chrono::steady_clock::now();
      cpu.svd_one(t, opt);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  }
  pin_blas_single_thread();
  return seconds;
}

}  // namespace tandem
