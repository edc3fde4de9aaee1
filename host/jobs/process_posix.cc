// SPDX-License-Identifier: Apache-2.0
#include "jobs/process_posix.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <utility>
#include <vector>

#include "core/error.h"

extern char** environ;

namespace tandem::jobs {

namespace {

// A descriptor closed on scope exit; the child gets its own copies through dup2.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

int open_output(const std::string& path) {
  const char* p = path.empty() ? "/dev/null" : path.c_str();
  return ::open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

bool executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::vector<char*> c_strings(const std::vector<std::string>& words) {
  std::vector<char*> out;
  out.reserve(words.size() + 1);
  for (const auto& w : words) out.push_back(const_cast<char*>(w.c_str()));
  out.push_back(nullptr);
  return out;
}

// tandem's environment with `overrides` set (replacing variables of the same name).
std::vector<std::string> job_environment(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    std::string name = entry.substr(0, entry.find('='));
    bool replaced = std::any_of(overrides.begin(), overrides.end(),
                                [&](const auto& o) { return o.first == name; });
    if (!replaced) env.push_back(std::move(entry));
  }
  for (const auto& [name, value] : overrides) env.push_back(name + "=" + value);
  return env;
}

// Boost.Process v1 (1.74 to 1.83) can only fork() here: its vfork path is compiled only when
// BOOST_POSIX_HAS_VFORK, which glibc's POSIX 2008 feature macros switch off. A full fork copies
// tandem's page tables for every job (copy_page_range and dup_mmap topped the profile of 1,000
// short jobs).
// posix_spawn (clone(CLONE_VFORK) in glibc >= 2.24) starts the job directly, puts it in its own
// process group before exec (POSIX_SPAWN_SETPGROUP, no race with a signal sent right after),
// clears the SIGCHLD block the pool holds, and returns exec errors such as ENOENT directly.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;

  SpawnSetup(int in, int out, int err) {
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in, 0);
    posix_spawn_file_actions_adddup2(&actions, out, 1);
    posix_spawn_file_actions_adddup2(&actions, err, 2);
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setpgroup(&attributes, 0);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attributes, &none);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

std::atomic<int> g_wake_fd{-1};

extern "C" void wake_on_child(int) {
  int saved = errno;
  int fd = g_wake_fd.load();
  if (fd >= 0) {
    char byte = 0;
    [[maybe_unused]] ssize_t n = ::write(fd, &byte, 1);
  }
  errno = saved;
}

constexpr int kInterruptSignals[] = {SIGINT, SIGTERM, SIGHUP};
std::atomic<int> g_interrupt_count{0};
// The handlers InterruptCountScope found (tandem's own), called first from count_interrupt.
std::atomic<void (*)(int)> g_previous_handler[3];

extern "C" void count_interrupt(int sig) {
  for (int i = 0; i < 3; ++i) {
    if (kInterruptSignals[i] != sig) continue;
    if (auto previous = g_previous_handler[i].load()) previous(sig);
  }
  g_interrupt_count.fetch_add(1);
  // The pool's loop may be asleep in ChildSignalScope::wait on another thread's behalf.
  wake_on_child(sig);
}

}  // namespace

std::string resolve_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path_env = std::getenv("PATH");
  std::string path = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= path.size()) {
    auto colon = path.find(':', start);
    std::string dir =
        path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (executable_file(candidate)) return candidate;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return "";
}

StartedProcess start_process(const ProcessSpec& spec) {
  StartedProcess result;
  std::string exe = resolve_executable(spec.argv.at(0));
  if (exe.empty()) {
    result.error = ENOENT;
    result.message = spec.argv[0] + ": command not found";
    return result;
  }
  Fd in{::open("/dev/null", O_RDONLY | O_CLOEXEC)};
  Fd out{spec.stdout_fd >= 0 ? -1 : open_output(spec.stdout_path)};
  Fd err{spec.stderr_fd >= 0 ? -1 : open_output(spec.stderr_path)};
  int out_fd = spec.stdout_fd >= 0 ? spec.stdout_fd : out.fd;
  int err_fd = spec.stderr_fd >= 0 ? spec.stderr_fd : err.fd;
  if (in.fd < 0 || out_fd < 0 || err_fd < 0) {
    result.error = errno;
    result.message = "cannot open the job's output files: " + std::string(std::strerror(errno));
    return result;
  }
  std::vector<std::string> env = job_environment(spec.env);
  std::vector<char*> envp = c_strings(env);
  std::vector<char*> argv = c_strings(spec.argv);
  SpawnSetup setup(in.fd, out_fd, err_fd);
  pid_t pid = -1;
  int rc =
      ::posix_spawn(&pid, exe.c_str(), &setup.actions, &setup.attributes, argv.data(), envp.data());
  if (rc != 0) {
    result.error = rc;
    result.message = spec.argv[0] + ": " + std::strerror(rc);
    return result;
  }
  result.pid = pid;
  return result;
}

MemoryFile::MemoryFile() : fd_(::memfd_create("tandem-job-output", MFD_CLOEXEC)) {
  if (fd_ < 0) throw_system_error("cannot capture a job's output", "memfd_create", errno);
}

MemoryFile::~MemoryFile() {
  if (fd_ >= 0) ::close(fd_);
}

MemoryFile::MemoryFile(MemoryFile&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

MemoryFile& MemoryFile::operator=(MemoryFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

CapturedRun run_captured(const std::vector<std::string>& argv) {
  CapturedRun r;
  MemoryFile out;
  MemoryFile err;
  ProcessSpec spec{argv, {}, "", ""};
  spec.stdout_fd = out.fd();
  spec.stderr_fd = err.fd();
  StartedProcess p = start_process(spec);
  if (p.pid < 0) {
    r.err = p.message;
    return r;
  }
  r.started = true;
  int status = 0;
  // A signal for tandem (SIGINT) interrupts the wait; the helper is short, so wait on.
  while (::waitpid(p.pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = out.contents();
  r.err = err.contents();
  return r;
}

std::string MemoryFile::contents() const {
  std::string text;
  char buf[65536];
  off_t offset = 0;
  while (true) {
    ssize_t n = ::pread(fd_, buf, sizeof buf, offset);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    offset += n;
  }
  return text;
}

bool reap_one(ReapedChild& out) {
  int status = 0;
  rusage usage{};
  pid_t pid = ::wait4(-1, &status, WNOHANG, &usage);
  if (pid <= 0) return false;
  out.pid = pid;
  out.status = status;
  out.peak_rss_bytes = static_cast<long long>(usage.ru_maxrss) * 1024;
  return true;
}

void signal_group(pid_t pgid, int sig) {
  if (pgid > 1) ::kill(-pgid, sig);
}

bool group_alive(pid_t pgid) { return pgid > 1 && (::kill(-pgid, 0) == 0 || errno == EPERM); }

bool set_subreaper(bool on) {
  int was = 0;
  if (::prctl(PR_GET_CHILD_SUBREAPER, &was) != 0) was = 0;
  ::prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0);
  return was != 0;
}

std::vector<pid_t> child_processes() {
  std::vector<pid_t> out;
  pid_t self = ::getpid();
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return out;
  while (dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    std::ifstream stat_file(std::string("/proc/") + entry->d_name + "/stat");
    std::string stat;
    std::getline(stat_file, stat);
    // Fields after the command name, which may itself hold spaces and parentheses.
    auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    char state = 0;
    long ppid = 0;
    if (std::sscanf(stat.c_str() + paren + 1, " %c %ld", &state, &ppid) == 2 && ppid == self) {
      out.push_back(static_cast<pid_t>(pid));
    }
  }
  ::closedir(dir);
  return out;
}

ChildSignalScope::ChildSignalScope() {
  if (::pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0)
    throw_system_error("cannot create", "pipe", errno);
  g_wake_fd.store(pipe_[1]);
  struct sigaction sa {};
  sa.sa_handler = wake_on_child;
  sigemptyset(&sa.sa_mask);
  // SA_RESTART: other threads' system calls must not fail with EINTR because a job ended.
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  ::sigaction(SIGCHLD, &sa, &old_action_);
}

ChildSignalScope::~ChildSignalScope() {
  ::sigaction(SIGCHLD, &old_action_, nullptr);
  g_wake_fd.store(-1);
  ::close(pipe_[0]);
  ::close(pipe_[1]);
}

void ChildSignalScope::wait(double seconds) {
  if (seconds > 0) {
    pollfd p{pipe_[0], POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(std::ceil(seconds * 1000)));
  }
  char buf[256];
  while (::read(pipe_[0], buf, sizeof buf) > 0) {
  }
}

InterruptCountScope::InterruptCountScope() {
  g_interrupt_count.store(0);
  for (int i = 0; i < 3; ++i) {
    struct sigaction current {};
    ::sigaction(kInterruptSignals[i], nullptr, &current);
    // Only on top of a handler: a default or ignored signal keeps its meaning.
    bool handled = !(current.sa_flags & SA_SIGINFO) && current.sa_handler != SIG_DFL &&
                   current.sa_handler != SIG_IGN;
    if (!handled) continue;
    g_previous_handler[i].store(current.sa_handler);
    struct sigaction sa = current;
    sa.sa_handler = count_interrupt;
    installed_[i] = ::sigaction(kInterruptSignals[i], &sa, &old_[i]) == 0;
  }
}

InterruptCountScope::~InterruptCountScope() {
  for (int i = 0; i < 3; ++i) {
    if (installed_[i]) ::sigaction(kInterruptSignals[i], &old_[i], nullptr);
    g_previous_handler[i].store(nullptr);
  }
}

int InterruptCountScope::count() const { return g_interrupt_count.load(); }

}  // namespace tandem::jobs
