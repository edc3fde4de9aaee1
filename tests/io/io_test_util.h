// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the io tests: temporary directories, hand-built .npy bytes, stored zips and
// the Python interpreter used for numpy cross-checks.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "io/npy.h"

namespace tandem::io::test {

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  /// `dir/name`.
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

/// Writes `bytes` to `path` (plain write, not atomic).
void write_bytes(const std::string& path, const std::string& bytes);
/// The whole content of `path`.
std::string read_bytes(const std::string& path);

/// A .npy stream written by hand: magic, version `major`.0, the dict text padded to 64 bytes
/// with a newline, then `data`. Independent of make_npy_header on purpose.
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1);

/// The dict text numpy writes for `descr`, order and shape.
std::string npy_dict(const std::string& descr, bool fortran, const std::vector<int64_t>& shape);

/// A zip archive of `members` (name, content) in order, stored or deflated (CRCs are real).
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& members,
                     bool deflate = false);

/// Raw deflate (zip method 8) of `bytes`.
std::string deflate_raw(const std::string& bytes);

/// Every matrix of `stack` as doubles, row-major, one after another.
std::vector<double> read_all(MatrixStack& stack);

/// The interpreter for numpy cross-checks: $TANDEM_PYTHON, else the first of python3 on PATH
/// and /usr/bin/python3 that imports numpy.
std::string python();
/// Empty when python() imports numpy, else why not.
std::string python_numpy_problem();
/// Runs `script` with python() and `args`; returns the exit status, output into `log`.
int run_python(const std::string& script, const std::string& args, std::string* log);

}  // namespace tandem::io::test
