// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "svd/backend.h"
#include "svd/matrix_source.h"

namespace tandem {

/// What happened to one matrix (index ≥ 0) or to a whole source that could not be opened or
/// written (index −1; `count` matrices are lost with it).
struct SvdItemRecord {
  const SvdSource* source = nullptr;
  int64_t index = -1;
  int64_t count = 1;
  int64_t m = 0, n = 0;
  DType dtype = DType::kFloat64;
  ItemResult result;
};

/// Receives events from the pipeline; called from worker threads, so implementations lock.
class SvdObserver {
 public:
  virtual ~SvdObserver() = default;
  /// Called once the total number of matrices is known.
  virtual void on_start(int64_t total_matrices) { (void)total_matrices; }
  /// One matrix (or a whole failed source) is finished.
  virtual void on_item(const SvdItemRecord& record) = 0;
  /// A source's output was skipped by --resume (already complete).
  virtual void on_skipped(const SvdSource& source, int64_t count) {
    (void)source;
    (void)count;
  }
  /// An output file was renamed into place; `complete` false for `<stem>.incomplete.npz`.
  virtual void on_output(const SvdSource& source, const std::string& path, bool complete) {
    (void)source;
    (void)path;
    (void)complete;
  }
};

struct SvdRunOptions {
  SvdOptions svd;
  bool resume = false;  ///< skip sources whose output is already complete
  /// A batching backend (traits().batch_bytes > 0) gets batches as full as its byte limit
  /// allows; the reader sends a partial one after gathering for this long, or at once when
  /// memory is short, so a slow disk never keeps the device idle.
  double max_gather_seconds = 0.2;
  /// Threads that write the results of a backend whose callers hold no core: 0 picks up to
  /// four (one per usable core). `tandem run` takes one, outside its core budget as the GPU
  /// feeder is, so that the subject jobs keep their cores.
  int writer_threads = 0;
  /// Memory the run may use, in bytes (the CLI passes what the machine has available). A
  /// matrix whose input and outputs alone need more fails up front with the sizes in its
  /// message, instead of the run dying in an allocation. 0: no such check.
  std::uint64_t memory_bytes = 0;
};

struct SvdRunStats {
  int64_t total = 0, done = 0, failed = 0, skipped = 0;
  double seconds = 0;
  bool interrupted = false;
};

/// The streaming read → compute → write pipeline. One reader thread reads matrices in order
/// into a bounded byte budget (a few matrices per backend caller), backend callers decompose
/// them (batching same-shape matrices when the backend asks for it), and each result is put in
/// place in its source's output (io::NpzWriter) as soon as the backend reports it (by the
/// caller itself when it holds a core, else by writer threads, so a GPU feeder goes straight
/// back to the device); an output is renamed into place once every matrix of its source is
/// done. Peak memory depends on the backend's callers and the matrix size,
/// never on the number of matrices. A source with failed matrices is written as
/// `<stem>.incomplete.npz` (NaN where a matrix failed) and never under its final name. Stops
/// reading on SIGINT/SIGTERM (core/interrupt.h); unfinished outputs are discarded.
SvdRunStats run_svd_pipeline(const std::vector<SvdSource>& sources, Backend& backend,
                             const SvdRunOptions& options, SvdObserver& observer);

/// Output names that hold U, S and Vh (or only S) for these options.
std::vector<std::string> output_arrays(const SvdOptions& opt);

/// `<dir>/<stem>.incomplete.npz` for an output path `<dir>/<stem>.npz`.
std::string incomplete_path(const std::string& output);

}  // namespace tandem
