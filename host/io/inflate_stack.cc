// SPDX-License-Identifier: Apache-2.0
#include "io/inflate_stack.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <vector>

#include "core/error.h"
#include "io/npy_layout.h"

namespace tandem::io {

namespace {

constexpr uint64_t kSpillChunk = uint64_t{4} << 20;

// An unlinked temporary file in $TMPDIR (or /tmp): it disappears with its last descriptor or
// mapping, whatever way the process ends.
int unlinked_temp_file(const std::string& where) {
  const char* dir = std::getenv("TMPDIR");
  std::string name = std::string(dir && *dir ? dir : "/tmp") + "/tandem-inflate-XXXXXX";
  const int fd = ::mkstemp(name.data());
  if (fd < 0) throw_system_error("cannot create a temporary file to inflate " + where, name, errno);
  ::unlink(name.c_str());
  return fd;
}

class InflatedStack final : public LayoutStack {
 public:
  InflatedStack(std::shared_ptr<MappedFile> file, uint64_t offset, uint64_t csize, uint64_t usize,
                std::string where)
      : LayoutStack(std::move(where)), in_(file, offset, csize, where_) {
    const NpyHeader header = inflate_npy_header(in_, where_);
    header_size_ = header.data_offset;
    layout_ = make_layout(header, where_);
    check_data_size(layout_, usize - std::min(usize, header_size_), where_);
    one_ = layout_;
    one_.count = 1;
  }

  void read(int64_t index, void* dst) override {
    TANDEM_EXPECTS(index >= 0 && index < layout_.count, "matrix index out of range");
    // Fortran-order stacks interleave every matrix through the whole array, so no bounded
    // in-order stream yields one matrix: inflate it once to a temporary file and map that.
    if (layout_.fortran && layout_.count > 1) {
      if (!spilled_) spill();
      return spilled_->read(index, dst);
    }
    try {
      read_in_order(index, dst);
    } catch (...) {
      next_ = std::numeric_limits<int64_t>::max();  // the stream is in an unknown state: restart
                                                    // next time
      throw;
    }
  }

 private:
  void read_in_order(int64_t index, void* dst) {
    const std::string item = "matrix " + std::to_string(index);
    if (index < next_) {
      in_.restart();
      in_.skip(header_size_, item);
      next_ = 0;
    }
    in_.skip(static_cast<uint64_t>(index - next_) * layout_.matrix_bytes(), item);
    next_ = index;
    const ElemType& e = layout_.elem;
    const bool direct = !layout_.fortran && e.kind == ElemKind::kFloat && !e.swap &&
                        static_cast<std::size_t>(e.size) == dtype_size(e.out);
    if (direct) {
      in_.read(static_cast<uint8_t*>(dst), layout_.matrix_bytes(), item);
    } else {
      scratch_.resize(layout_.matrix_bytes());
      in_.read(scratch_.data(), scratch_.size(), item);
      copy_matrix(scratch_.data(), one_, 0, dst);
    }
    next_ = index + 1;
  }

  void spill() {
    const int fd = unlinked_temp_file(where_);
    try {
      std::vector<uint8_t> chunk(std::min(kSpillChunk, std::max<uint64_t>(layout_.data_bytes, 1)));
      in_.restart();
      in_.skip(header_size_);
      for (uint64_t done = 0; done < layout_.data_bytes;) {
        const uint64_t n = std::min<uint64_t>(chunk.size(), layout_.data_bytes - done);
        in_.read(chunk.data(), n);
        for (uint64_t w = 0; w < n;) {
          const ssize_t k = ::pwrite(fd, chunk.data() + w, n - w, static_cast<off_t>(done + w));
          if (k < 0 && errno == EINTR) continue;
          if (k < 0)
            throw_system_error("cannot write a temporary file to inflate " + where_, "$TMPDIR",
                               errno);
          w += static_cast<uint64_t>(k);
        }
        done += n;
      }
      spilled_ = make_mapped_stack(MappedFile::from_fd(fd, where_), 0, layout_, where_);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
  }

  Inflater in_;
  uint64_t header_size_ = 0;
  StackLayout one_;  // the layout of a single matrix, for converting from scratch_
  int64_t next_ = 0;
  std::vector<uint8_t> scratch_;
  std::unique_ptr<MatrixStack> spilled_;
};

}  // namespace

std::unique_ptr<MatrixStack> make_inflated_stack(std::shared_ptr<MappedFile> file, uint64_t offset,
                                                 uint64_t csize, uint64_t usize,
                                                 std::string where) {
  return std::make_unique<InflatedStack>(std::move(file), offset, csize, usize, std::move(where));
}

}  // namespace tandem::io
