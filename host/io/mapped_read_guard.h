// SPDX-License-Identifier: Apache-2.0
// Reading a file mapping that another program truncates: touching a page past the file's new end
// raises SIGBUS, whose default action kills the whole process, every other input with it. Reads
// of mapped inputs therefore run under a MappedReadGuard, which turns such a fault into an
// InputError for the one item being read.
//
// How: one process-wide SIGBUS handler, installed on first use. For a fault inside a region that
// the faulting thread has guarded, it maps zero pages over the region from the faulting page to
// its end and marks the region; the faulting instruction then restarts and reads zeros, and the
// guarded read finishes on garbage that read_mapped() discards, throwing the InputError instead.
// Any other SIGBUS goes to the handler that was there before, or to the default action (the
// process still dies of SIGBUS with a core), so a real bug is not hidden.
//
// Why zero pages rather than siglongjmp out of the handler: a jump would skip the destructors of
// whatever C++ objects the read has live (zip parsing builds strings and vectors, GzipReader and
// zlib keep state), so every guarded region would have to be a bare copy loop. Letting the read
// run to its end keeps every unwinding path ordinary. mmap is not on POSIX's async-signal-safe
// list, but on Linux it is a plain system call that takes no user-space lock.
//
// The zero pages are seen by every thread reading that mapping, so the mark is per region, not
// per thread: any guarded read of a marked region fails, whichever thread faulted.
//
// Header-only because nifti_image.cc, also a reader of mapped inputs, is built into
// tandem_smooth, which does not link tandem_io; inline variables and functions give one handler
// and one thread-local guard stack per process however many libraries include this.
#pragma once

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#include "core/error.h"

namespace tandem::io {

/// The InputError reason for a read that found its file truncated under it.
inline constexpr const char* kFileShrank =
    "the file shrank while it was read (truncated by another program?)";

/// One read-only file mapping as the SIGBUS handler sees it. Owned by the mapping's owner
/// (MappedFile, NiftiImage's input), which sets `data` and `size` before any guarded read and
/// unmaps `[data, data + size)` when it goes.
struct MappedRegion {
  const std::uint8_t* data = nullptr;  ///< first mapped byte (nullptr for an empty file)
  std::size_t size = 0;                ///< mapped length in bytes (the file size at mapping time)
  /// Set, by the handler of whichever thread faulted, once a read touched a page that the file no
  /// longer backs; from then on that part of the mapping reads as zeros. Never cleared.
  std::atomic<bool> shrank{false};
};

class MappedReadGuard;

namespace detail {

/// This thread's innermost live guard (guards nest); read by the SIGBUS handler.
inline thread_local const MappedReadGuard* innermost_guard = nullptr;
/// The SIGBUS disposition found at installation, for faults that are not ours.
inline struct sigaction previous_sigbus {};
/// The page size, fetched before the handler is installed (sysconf is not async-signal-safe).
inline std::uintptr_t sigbus_page_size = 4096;

void on_sigbus(int sig, siginfo_t* info, void* context);
void install_sigbus_handler();

}  // namespace detail

/// While alive, a SIGBUS that this thread raises by reading inside `region` marks the region
/// instead of killing the process (see the top of this file). Create and destroy on one thread,
/// innermost first (a scope does that). Prefer read_mapped(), which also throws.
class MappedReadGuard {
 public:
  /// Installs the process's SIGBUS handler on first use and pushes this guard.
  explicit MappedReadGuard(MappedRegion& region) : region_(region) {
    detail::install_sigbus_handler();
    outer_ = detail::innermost_guard;
    detail::innermost_guard = this;
    // The handler must see the guard before the first read of the mapping, and after the last.
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  ~MappedReadGuard() {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    detail::innermost_guard = outer_;
  }
  MappedReadGuard(const MappedReadGuard&) = delete;
  MappedReadGuard& operator=(const MappedReadGuard&) = delete;

  /// True once the region has faulted, in this thread or another: what was read is void.
  bool faulted() const { return region_.shrank.load(std::memory_order_acquire); }

 private:
  friend void detail::on_sigbus(int, siginfo_t*, void*);
  MappedRegion& region_;
  const MappedReadGuard* outer_ = nullptr;
};

/// Runs `read()` (which reads from `region`) under a MappedReadGuard and returns its result. If the
/// region has faulted by the end, whatever `read` returned or threw came from zeros and is
/// dropped: throws InputError(file, item, kFileShrank) instead.
template <typename Read>
auto read_mapped(MappedRegion& region, const std::string& file, const std::string& item,
                 Read&& read) -> decltype(read()) {
  MappedReadGuard guard(region);
  try {
    if constexpr (std::is_void_v<decltype(read())>) {
      read();
      if (!guard.faulted()) return;
    } else {
      auto result = read();
      if (!guard.faulted()) return result;
    }
  } catch (...) {
    if (!guard.faulted()) throw;
  }
  throw InputError(file, item, kFileShrank);
}

namespace detail {

inline void on_sigbus(int sig, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
  const std::uintptr_t page = sigbus_page_size;
  // si_code > 0: raised by the kernel for this thread's own access, not sent by kill().
  for (const MappedReadGuard* g = info->si_code > 0 ? innermost_guard : nullptr; g; g = g->outer_) {
    MappedRegion& r = g->region_;
    const auto begin = reinterpret_cast<std::uintptr_t>(r.data);
    const std::uintptr_t end = (begin + r.size + page - 1) / page * page;
    if (!r.data || addr < begin || addr >= end) continue;
    const std::uintptr_t from = addr / page * page;
    void* p = ::mmap(reinterpret_cast<void*>(from), end - from, PROT_READ,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED) break;  // cannot repair the mapping: die as if unguarded
    r.shrank.store(true, std::memory_order_release);
    errno = saved_errno;
    return;  // the faulting read restarts and finds zeros
  }
  const struct sigaction& prev = previous_sigbus;
  if ((prev.sa_flags & SA_SIGINFO) && prev.sa_sigaction) {
    errno = saved_errno;
    return prev.sa_sigaction(sig, info, context);
  }
  if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    errno = saved_errno;
    return prev.sa_handler(sig);
  }
  if (prev.sa_handler == SIG_IGN && info->si_code <= 0) return;  // a sent SIGBUS, ignored before
  // The default action: restore it and let the access fault again on return (or re-send a sent
  // signal), so the process dies of SIGBUS, with a core, exactly as without this handler.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  if (info->si_code <= 0) ::raise(sig);
}

inline void install_sigbus_handler() {
  static const bool installed = [] {
    sigbus_page_size = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    return ::sigaction(SIGBUS, &sa, &previous_sigbus) == 0;
  }();
  (void)installed;
}

}  // namespace detail

}  // namespace tandem::io
