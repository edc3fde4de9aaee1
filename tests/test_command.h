// SPDX-License-Identifier: Apache-2.0
#pragma once
// Shared by the end-to-end tests: run a command line, read the variables tests/test_env.cc
// fills (TANDEM_BIN, TANDEM_PYTHON, TANDEM_TESTS_DIR), and a scratch directory.

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

/// The environment variable `name`, or "".
inline std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

/// The tandem binary under test.
inline std::string tandem_bin() { return env_or_empty("TANDEM_BIN"); }

/// The tests/ source folder (scripts live beside the tests).
inline std::string test_source_dir() { return env_or_empty("TANDEM_TESTS_DIR"); }

/// A fresh temporary directory removed with the object.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tandem-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

}  // namespace tandem::testing
