// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers for end-to-end tests that run the built `tandem` binary (TANDEM_BIN) and Python
// cross-checks (TANDEM_PYTHON), both set by tests/CMakeLists.txt.

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace tandem::testing {

struct RunResult {
  int exit_code = -1;
  std::string output;  ///< stdout and stderr together
};

/// Runs a shell command line and captures its output and exit code.
inline RunResult run_command(const std::string& command) {
  RunResult r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

inline std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

/// The tandem binary under test.
inline std::string tandem_bin() { return env_or_empty("TANDEM_BIN"); }

/// A Python interpreter with numpy, or "" (then tests that need it skip with the reason).
inline std::string python_with_numpy() {
  std::string py = env_or_empty("TANDEM_PYTHON");
  if (py.empty()) py = "python3";
  return run_command(py + " -c 'import numpy'").exit_code == 0 ? py : "";
}

/// The tests/ source folder (scripts live beside the tests).
inline std::string test_source_dir() { return env_or_empty("TANDEM_TESTS_DIR"); }

/// A fresh temporary directory removed with the object.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tandem-cli-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

}  // namespace tandem::testing
