// SPDX-License-Identifier: Apache-2.0
#pragma once

/// Marks a hot loop for an AVX2 clone chosen at load time (GCC function multiversioning). Beyond
/// the wider vectors, VEX encoding matters: ISA-L's AVX-512 (de)compression in the same threads
/// leaves the upper register state dirty, and legacy-SSE loops after it ran 3x slower on the
/// bench machine. Contraction is off for tandem_smooth, so every clone performs the same IEEE
/// operations in the same order and results stay bit-identical.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TANDEM_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TANDEM_SIMD_CLONES
#endif
