// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers for tandem smooth's tests: run the built binary (TANDEM_BIN) and the Python oracle
// (TANDEM_PYTHON with numpy, scipy and nibabel), with the scripts under TANDEM_TESTS_DIR/smooth;
// tests/test_env.cc gives all three their build-time values.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "test_command.h"

namespace tandem::smooth_testing {

using RunResult = testing::RunResult;

/// Runs a shell command line and captures its output and exit code.
inline RunResult run(const std::string& command) { return testing::run_command(command); }

/// The environment variable `name`, or "".
inline std::string env(const char* name) { return testing::env_or_empty(name); }

/// The tandem binary under test.
inline std::string tandem() { return env("TANDEM_BIN"); }

/// Python with numpy, scipy and nibabel, or "" (tests then skip, saying why).
inline std::string python() {
  static const std::string py = [] {
    std::string p = env("TANDEM_PYTHON");
    if (p.empty()) p = "python3";
    return run(p + " -c 'import numpy, scipy.ndimage, nibabel'").exit_code == 0 ? p : "";
  }();
  return py;
}

/// A script beside the tests (tests/smooth/<name>).
inline std::string script(const std::string& name) {
  return env("TANDEM_TESTS_DIR") + "/smooth/" + name;
}

/// nibabel's bundled example images (nibabel/tests/data), or "" when not installed.
inline std::string nibabel_data_dir() {
  if (python().empty()) return "";
  RunResult r =
      run(python() + " -c 'import nibabel, os; print(os.path.dirname(nibabel.__file__))'");
  if (r.exit_code != 0) return "";
  std::string dir = r.output.substr(0, r.output.find('\n')) + "/tests/data";
  return std::filesystem::exists(dir + "/example4d.nii.gz") ? dir : "";
}

/// The last line of `text` parsed as JSON (the oracle prints one JSON line).
inline nlohmann::json last_json_line(const std::string& text) {
  std::size_t end = text.find_last_not_of("\n");
  std::size_t start = text.rfind('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  return nlohmann::json::parse(text.substr(start, end - start + 1));
}

/// A fresh temporary directory removed with the object.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tandem-smooth-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

#define TANDEM_REQUIRE_PYTHON()                                                      \
  do {                                                                               \
    if (::tandem::smooth_testing::python().empty())                                  \
      GTEST_SKIP() << "no Python with numpy, scipy and nibabel (set TANDEM_PYTHON)"; \
  } while (0)

}  // namespace tandem::smooth_testing
