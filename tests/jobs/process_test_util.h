// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers for tests that run real child processes: scratch directories, script files, and
// checks that nothing a job started is left (by marker token, pid file or /proc scan).

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace tandem::testing {

/// A fresh temporary directory, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tandem-jobs-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

/// Writes `text` to `path`.
inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

/// The whole content of `path` ("" when missing).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The lines of `path`.
inline std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

/// A token unique to this test process and call, to find a job's processes by their cmdline.
inline std::string unique_marker(const std::string& what) {
  static std::atomic<int> counter{0};
  return "tandem_marker_" + what + "_" + std::to_string(::getpid()) + "_" +
         std::to_string(counter++);
}

/// Processes (other than this one) whose command line holds `marker`, zombies excluded.
inline std::vector<int> processes_with_marker(const std::string& marker) {
  std::vector<int> found;
  DIR* dir = ::opendir("/proc");
  while (dirent* e = dir ? ::readdir(dir) : nullptr) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0 || pid == ::getpid()) continue;
    std::string base = std::string("/proc/") + e->d_name;
    std::string cmdline = read_text(base + "/cmdline");
    std::string stat = read_text(base + "/stat");
    auto paren = stat.rfind(')');
    bool zombie = paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
    if (!zombie && cmdline.find(marker) != std::string::npos) found.push_back(pid);
  }
  if (dir) ::closedir(dir);
  return found;
}

/// Test cleanup after the assertions: SIGKILLs whatever still carries `marker`, so a failing
/// test does not leave processes behind.
class KillMarkedOnExit {
 public:
  explicit KillMarkedOnExit(std::string marker) : marker_(std::move(marker)) {}
  ~KillMarkedOnExit() {
    for (int pid : processes_with_marker(marker_)) ::kill(pid, SIGKILL);
  }

 private:
  std::string marker_;
};

/// True while a process with this pid exists (zombie or not).
inline bool pid_exists(int pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

/// The pid written into `path` by a job (`echo $$ > path`), or 0.
inline int read_pid(const std::string& path) { return std::atoi(read_text(path).c_str()); }

/// Waits until `path` exists (bounded, to avoid a hang); true if it appeared.
inline bool wait_for_file(const std::string& path, double seconds = 30) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (std::filesystem::exists(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

/// Number of open descriptors of this process.
inline int open_fd_count() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

/// Children of this process (any state, zombies included), by /proc scan.
inline std::vector<int> own_children() {
  std::vector<int> out;
  DIR* dir = ::opendir("/proc");
  while (dirent* e = dir ? ::readdir(dir) : nullptr) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::string stat = read_text(std::string("/proc/") + e->d_name + "/stat");
    auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(stat.substr(paren + 2));
    char state = 0;
    int ppid = 0;
    fields >> state >> ppid;
    if (ppid == ::getpid()) out.push_back(pid);
  }
  if (dir) ::closedir(dir);
  return out;
}

/// A job script whose background grandchild ignores SIGTERM, writes its pid to DIR/grand and
/// carries the marker in its command line. Usage: sh leader.sh DIR MARKER [exit|wait|setsid].
inline void write_grandchild_scripts(const TempDir& dir) {
  write_text(dir / "grand.sh",
             "trap '' TERM\n"
             "echo $$ > \"$1/grand.tmp\" && mv \"$1/grand.tmp\" \"$1/grand\"\n"
             "while :; do sleep 0.1; done\n");
  write_text(dir / "leader.sh",
             "echo $$ > \"$1/leader\"\n"
             "if [ \"$3\" = setsid ]; then setsid sh \"$1/grand.sh\" \"$1\" \"$2\" &\n"
             "else sh \"$1/grand.sh\" \"$1\" \"$2\" & fi\n"
             "while [ ! -e \"$1/grand\" ]; do sleep 0.01; done\n"
             "[ \"$3\" = wait ] || exit 0\n"
             "trap '' TERM\n"
             "while :; do sleep 0.1; done\n");
}

}  // namespace tandem::testing
