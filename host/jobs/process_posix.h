// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace tandem::jobs {

/// What to start: an argv (argv[0] searched in PATH when it holds no '/'), variables to set on
/// top of tandem's own environment, and where the child's stdout and stderr go: an open
/// descriptor when given, else a file path.
struct ProcessSpec {
  /// Program and arguments; never empty.
  std::vector<std::string> argv;
  /// NAME, value pairs added to (or replacing in) the inherited environment.
  std::vector<std::pair<std::string, std::string>> env;
  /// Truncated and written by the child; empty = /dev/null.
  std::string stdout_path;
  /// Truncated and written by the child; empty = /dev/null.
  std::string stderr_path;
  /// When >= 0, the child's stdout instead of stdout_path (not owned, not closed).
  int stdout_fd = -1;
  /// When >= 0, the child's stderr instead of stderr_path (not owned, not closed).
  int stderr_fd = -1;
};

/// An anonymous in-memory file (memfd) that captures one job's output without touching a
/// filesystem; owns its descriptor. Move-only.
class MemoryFile {
 public:
  /// Creates the memfd; throws Error when the kernel refuses.
  MemoryFile();
  ~MemoryFile();
  MemoryFile(MemoryFile&& other) noexcept;
  MemoryFile& operator=(MemoryFile&& other) noexcept;
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  /// The descriptor (for ProcessSpec).
  int fd() const { return fd_; }
  /// Everything written so far.
  std::string contents() const;

 private:
  int fd_ = -1;
};

/// A started child: its pid, which is also its process group id. pid < 0 means it could not be
/// started; `error` then holds the errno (ENOENT: command not found) and `message` says why.
struct StartedProcess {
  /// The child's pid (= its process group id), or -1.
  pid_t pid = -1;
  /// errno of the failed start, 0 when started.
  int error = 0;
  /// Why it could not start.
  std::string message;
};

/// Starts `spec` with posix_spawn in a new process group whose id is its pid, stdin /dev/null
/// and an empty signal mask. Never throws for the job's own failures (missing program, exec
/// error); those come back in StartedProcess.
StartedProcess start_process(const ProcessSpec& spec);

/// A short helper command's end (sbatch, sacct, scancel): whether it started, its exit status
/// (-1 when killed by a signal) and its captured stdout and stderr.
struct CapturedRun {
  /// False when the program could not be started (`err` says why).
  bool started = false;
  /// Exit status, -1 when a signal ended it.
  int exit_code = -1;
  /// Its stdout.
  std::string out;
  /// Its stderr, or why it could not start.
  std::string err;
};

/// Runs `argv` (argv[0] searched in PATH) to completion with stdin /dev/null and stdout and
/// stderr captured in memory, waiting for that child only. Not for use while a Pool runs.
CapturedRun run_captured(const std::vector<std::string>& argv);

/// The program file `name` resolves to through PATH (or `name` itself when it holds a '/');
/// empty when nothing executable is found.
std::string resolve_executable(const std::string& name);

/// One child reaped by wait4: pid, wait status and peak resident set size in bytes.
struct ReapedChild {
  /// Which child.
  pid_t pid = -1;
  /// Its wait status (WIFEXITED, WTERMSIG, ...).
  int status = 0;
  /// ru_maxrss of wait4, in bytes.
  long long peak_rss_bytes = 0;
};

/// Reaps one exited child of this process without blocking; false when none has exited.
bool reap_one(ReapedChild& out);

/// Sends `sig` to every process of group `pgid` (ignores a group that no longer exists).
void signal_group(pid_t pgid, int sig);

/// True while any process (zombies included) is left in group `pgid`.
bool group_alive(pid_t pgid);

/// Sets or clears this process's child-subreaper flag (PR_SET_CHILD_SUBREAPER): while set, a
/// job's descendant that leaves its group (setsid) and is orphaned is re-parented to tandem,
/// which reaps and ends it. Returns the previous setting (false where the kernel refuses).
bool set_subreaper(bool on);

/// The live children of this process, by scanning /proc (subreaper adoptees included).
std::vector<pid_t> child_processes();

/// Lets the pool sleep until a child exits: installs a SIGCHLD handler that writes to a
/// close-on-exec self-pipe, and restores the previous handler on destruction. Unlike blocking
/// SIGCHLD for sigtimedwait, this works when other threads exist (OpenBLAS starts its pool at
/// load time, and a process-directed SIGCHLD may be delivered to any thread that does not block
/// it). One per process at a time. Not copyable.
class ChildSignalScope {
 public:
  ChildSignalScope();
  ~ChildSignalScope();
  ChildSignalScope(const ChildSignalScope&) = delete;
  ChildSignalScope& operator=(const ChildSignalScope&) = delete;

  /// Sleeps until a child exits (SIGCHLD since the last wait), a signal interrupts, or
  /// `seconds` have passed.
  void wait(double seconds);

 private:
  int pipe_[2] = {-1, -1};
  struct sigaction old_action_ {};
};

/// Counts SIGINT, SIGTERM and SIGHUP while it lives, so that the pool can tell a second Ctrl-C
/// from the first (tandem's interrupt flag keeps the first only). Each signal still reaches the
/// handler found in place (install_interrupt_handlers) and wakes ChildSignalScope::wait; a
/// signal at its default or ignored is left alone and not counted. Restores the handlers on
/// destruction. One per process at a time. Not copyable.
class InterruptCountScope {
 public:
  InterruptCountScope();
  ~InterruptCountScope();
  InterruptCountScope(const InterruptCountScope&) = delete;
  InterruptCountScope& operator=(const InterruptCountScope&) = delete;

  /// Signals counted since construction.
  int count() const;

 private:
  struct sigaction old_[3]{};
  bool installed_[3] = {false, false, false};
};

}  // namespace tandem::jobs
