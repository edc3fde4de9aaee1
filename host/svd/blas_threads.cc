// SPDX-License-Identifier: Apache-2.0
#include "svd/blas_threads.h"

#include <string>

// Weak references: whichever BLAS is linked provides its own switch, the others stay null.
extern "C" {
void openblas_set_num_threads(int) __attribute__((weak));
int openblas_get_num_threads() __attribute__((weak));
char* openblas_get_config() __attribute__((weak));
char* openblas_get_corename() __attribute__((weak));
void bli_thread_set_num_threads(long) __attribute__((weak));
void MKL_Set_Num_Threads(int) __attribute__((weak));
}

namespace tandem {

void set_blas_threads(int threads) {
  if (openblas_set_num_threads) openblas_set_num_threads(threads);
  if (bli_thread_set_num_threads) bli_thread_set_num_threads(threads);
  if (MKL_Set_Num_Threads) MKL_Set_Num_Threads(threads);
}

void pin_blas_single_thread() { set_blas_threads(1); }

std::string blas_description() {
  if (openblas_get_config) {
    std::string text = openblas_get_config();
    if (openblas_get_corename) text += std::string(", core ") + openblas_get_corename();
    if (openblas_get_num_threads) {
      text += ", " + std::to_string(openblas_get_num_threads()) + " thread(s) per call";
    }
    return text;
  }
  return std::string(TANDEM_BLAS_NAME) + " BLAS/LAPACK";
}

}  // namespace tandem
