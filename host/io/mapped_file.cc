// SPDX-License-Identifier: Apache-2.0
#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace tandem::io {

namespace {

uint64_t page_size() {
  static const uint64_t size = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

// Whole pages inside [offset, offset+length): madvise works on page boundaries only, and a
// partial page may still hold bytes another matrix needs.
bool inner_pages(uint64_t offset, uint64_t length, uint64_t* begin, uint64_t* end) {
  const uint64_t page = page_size();
  *begin = (offset + page - 1) / page * page;
  *end = (offset + length) / page * page;
  return *end > *begin;
}

}  // namespace

std::shared_ptr<MappedFile> MappedFile::from_fd(int fd, const std::string& name) {
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw InputError(name, "", std::string("cannot stat: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw InputError(name, "", "is a directory, not a file");
  if (!S_ISREG(st.st_mode)) throw InputError(name, "", "not a regular file");
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size == 0) return std::shared_ptr<MappedFile>(new MappedFile(nullptr, 0));
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED)
    throw InputError(name, "", std::string("cannot mmap: ") + std::strerror(errno));
  return std::shared_ptr<MappedFile>(new MappedFile(static_cast<const uint8_t*>(p), size));
}

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError(path, "", std::string("cannot open: ") + std::strerror(errno));
  try {
    auto file = from_fd(fd, path);
    ::close(fd);  // the mapping keeps the file alive
    return file;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

MappedFile::~MappedFile() {
  if (data()) ::munmap(const_cast<uint8_t*>(data()), size());
}

void MappedFile::advise_sequential(uint64_t offset, uint64_t length) const {
  uint64_t begin = 0, end = 0;
  if (data() && inner_pages(offset, length, &begin, &end))
    ::madvise(const_cast<uint8_t*>(data()) + begin, end - begin, MADV_SEQUENTIAL);
}

void MappedFile::release(uint64_t offset, uint64_t length) const {
  uint64_t begin = 0, end = 0;
  // MADV_DONTNEED on a read-only private file mapping only unmaps: a later access faults the
  // same bytes back in from the page cache, so this is safe even if the range is read again.
  if (data() && inner_pages(offset, length, &begin, &end))
    ::madvise(const_cast<uint8_t*>(data()) + begin, end - begin, MADV_DONTNEED);
}

}  // namespace tandem::io
