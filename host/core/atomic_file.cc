// SPDX-License-Identifier: Apache-2.0
#include "core/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "core/error.h"

namespace tandem {

namespace {

std::atomic<unsigned> g_counter{0};

std::pair<std::string, std::string> split_path(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

bool process_alive(long pid) {
  return pid > 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

// Removes the temporaries `.<name>.tmp-<pid>-<n>` in `dir` whose writer is gone and for whose
// final name `wanted(name)` holds.
template <typename Wanted>
void remove_stale_temporaries_if(const std::string& dir, Wanted wanted) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    auto pos = name.rfind(".tmp-");
    if (name.empty() || name[0] != '.' || pos == std::string::npos) continue;
    if (!wanted(name.substr(1, pos - 1))) continue;
    // Only temporaries whose writer is gone: a live run in the same directory keeps its own.
    long pid = std::strtol(name.c_str() + pos + 5, nullptr, 10);
    if (!process_alive(pid)) ::unlink((dir + "/" + name).c_str());
  }
  ::closedir(d);
}

}  // namespace

AtomicFile::AtomicFile(std::string final_path, const std::string& what)
    : final_path_(std::move(final_path)) {
  auto [dir, name] = split_path(final_path_);
  temp_path_ = (dir == "/" ? "" : dir) + "/." + name + ".tmp-" + std::to_string(getpid()) + "-" +
               std::to_string(g_counter++);
  fd_ = ::open(temp_path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_system_error("cannot create " + what, final_path_, errno);
}

AtomicFile::~AtomicFile() { discard(); }

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : final_path_(std::move(other.final_path_)),
      temp_path_(std::move(other.temp_path_)),
      fd_(std::exchange(other.fd_, -1)) {}

AtomicFile& AtomicFile::operator=(AtomicFile&& other) noexcept {
  if (this != &other) {
    discard();
    final_path_ = std::move(other.final_path_);
    temp_path_ = std::move(other.temp_path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void AtomicFile::pwrite_all(const void* data, std::size_t size, std::uint64_t offset) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::pwrite(fd_, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_system_error("cannot write output", final_path_, errno);
    }
    p += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
}

void AtomicFile::commit(const std::string& other_path) {
  const std::string& target = other_path.empty() ? final_path_ : other_path;
  // fdatasync before rename: after a power cut the final name never points at missing data.
  if (::fdatasync(fd_) != 0 && errno != EINVAL)
    throw_system_error("cannot flush output", target, errno);
  if (::close(std::exchange(fd_, -1)) != 0)
    throw_system_error("cannot close output", target, errno);
  if (::rename(temp_path_.c_str(), target.c_str()) != 0) {
    int err = errno;
    ::unlink(temp_path_.c_str());
    throw_system_error("cannot rename output into place", target, err);
  }
  temp_path_.clear();
}

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  if (!temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
  }
}

void write_file_atomic(const std::string& path, const std::string& content) {
  AtomicFile f(path);
  f.pwrite_all(content.data(), content.size(), 0);
  f.commit();
}

void remove_stale_temporaries(const std::string& dir) {
  remove_stale_temporaries_if(dir, [](const std::string&) { return true; });
}

void remove_stale_temporaries_of(const std::vector<std::string>& final_paths) {
  std::map<std::string, std::set<std::string>> names_in_dir;
  for (const auto& path : final_paths) {
    auto [dir, name] = split_path(path);
    names_in_dir[dir].insert(name);
  }
  for (const auto& [dir, names] : names_in_dir) {
    remove_stale_temporaries_if(dir, [&names = names](const std::string& final_name) {
      return names.count(final_name) > 0;
    });
  }
}

}  // namespace tandem
