// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers for the CLI end-to-end tests.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_command.h"

namespace tandem::testing {

/// A Python interpreter with numpy, or "" (then tests that need it skip with the reason).
inline std::string python_with_numpy() {
  std::string py = env_or_empty("TANDEM_PYTHON");
  if (py.empty()) py = "python3";
  return run_command(py + " -c 'import numpy'").exit_code == 0 ? py : "";
}

/// A program running in the background (tests signal it, or watch it while it runs), its
/// stdout and stderr in files.
struct Background {
  pid_t pid = -1;
  std::string out_path;
  std::string err_path;

  /// Waits for exit (bounded); returns the exit code, 128+signal when killed by one, or -1
  /// when it outlived `seconds` (it is then killed).
  int wait(double seconds = 120) {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    int status = 0;
    while (std::chrono::steady_clock::now() < end) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
  }
  std::string out() const { return read_file(out_path); }
  std::string err() const { return read_file(err_path); }

 private:
  static std::string read_file(const std::string& path) {
    std::string text;
    if (FILE* f = std::fopen(path.c_str(), "rb")) {
      char buf[4096];
      for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
      std::fclose(f);
    }
    return text;
  }
};

/// Starts `argv` (argv[0] a path) with stdout/stderr in `log_stem`.out/.err, the variables in
/// `env` set and, when `cwd` is given, in that directory.
inline Background start_background(const std::vector<std::string>& argv,
                                   const std::string& log_stem,
                                   const std::vector<std::pair<std::string, std::string>>& env = {},
                                   const std::string& cwd = "") {
  Background b;
  b.out_path = log_stem + ".out";
  b.err_path = log_stem + ".err";
  b.pid = ::fork();
  if (b.pid == 0) {
    int out = ::open(b.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(b.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(125);
    for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
    std::vector<std::string> args = argv;
    std::vector<char*> c;
    for (auto& a : args) c.push_back(a.data());
    c.push_back(nullptr);
    ::execv(c[0], c.data());
    ::_exit(126);
  }
  return b;
}

}  // namespace tandem::testing
