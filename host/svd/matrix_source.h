// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/shard.h"
#include "io/npy.h"

namespace tandem {

/// `--random BxMxN[:float32|float64][:seed=S]`: B uniform [0,1) matrices, as np.random.rand.
struct RandomSpec {
  int64_t count = 0, rows = 0, cols = 0;
  DType dtype = DType::kFloat64;
  uint64_t seed = 0;
};

/// Parses a --random value; throws UsageError naming the bad part.
RandomSpec parse_random_spec(const std::string& text);

/// One input stack of matrices and where its results go.
struct SvdSource {
  std::string label;   ///< for messages: "a.npy", "b.npz:member", "random"
  std::string path;    ///< the file ("" for random data)
  std::string member;  ///< .npz member, or ""
  std::string output;  ///< final output path; "" when results are not written
  std::string error;   ///< set when the input already failed while being listed
  bool is_random = false;
  RandomSpec random;

  /// Opens the stack (header only; matrices are read on demand). Throws InputError.
  std::unique_ptr<io::MatrixStack> open() const;
};

/// Expands INPUT arguments (files, directories, quoted globs) into sources in a stable order:
/// a directory contributes its *.npy and *.npz files sorted by name, an .npz one source per
/// member. Output names follow numpy's stems: `OUTDIR/<stem>.npz`, or `OUTDIR/<stem>/<member>.npz`
/// for .npz members. A missing file or unreadable archive still becomes a source (with `error`
/// set, or failing when opened) so it is reported as a failed item. Two inputs that would write
/// the same output are a UsageError. `outdir` "" means results are not written.
std::vector<SvdSource> expand_inputs(const std::vector<std::string>& inputs,
                                     const std::string& outdir);

/// The source for --random data; writes `OUTDIR/random.npz` when `outdir` is set.
SvdSource random_source(const RandomSpec& spec, const std::string& outdir);

/// One shard's part of the sources (--shard) and how many input files it and all shards hold.
struct ShardSelection {
  /// This shard's sources, in their order.
  std::vector<SvdSource> sources;
  /// Input files in this shard.
  std::size_t files = 0;
  /// Input files in all shards together.
  std::size_t total_files = 0;
};

/// The sources of `shard`: the i-th input file (from 0, in expand_inputs' order; an .npz with
/// all of its members is one file) belongs to shard i mod N + 1, so each output is written by
/// exactly one shard. --random data is one stream with one output, not files: a random source
/// is a UsageError.
ShardSelection select_shard(std::vector<SvdSource> sources, const Shard& shard);

}  // namespace tandem
