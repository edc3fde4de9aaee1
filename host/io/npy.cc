// SPDX-License-Identifier: Apache-2.0
#include "io/npy.h"

#include <limits>
#include <utility>

#include "core/atomic_file.h"
#include "core/error.h"
#include "io/npy_layout.h"

namespace tandem::io {

namespace {

const char* const kNeedMatrix = "need a matrix (2-D) or a stack of matrices (3-D)";

class MappedStack final : public LayoutStack {
 public:
  MappedStack(std::shared_ptr<MappedFile> file, uint64_t offset, StackLayout layout,
              std::string where)
      : LayoutStack(std::move(where), std::move(layout)), file_(std::move(file)), offset_(offset) {
    if (!layout_.fortran) file_->advise_sequential(offset_, layout_.data_bytes);
  }

  void read(int64_t index, void* dst) override {
    TANDEM_EXPECTS(index >= 0 && index < layout_.count, "matrix index out of range");
    file_->guarded(where_, "matrix " + std::to_string(index),
                   [&] { copy_matrix(file_->data() + offset_, layout_, index, dst); });
    // A C-order matrix is one contiguous range that the next read does not touch: drop it from
    // the resident set so RSS stays near one matrix however many the file holds. (Fortran-order
    // stacks interleave matrices, so their pages stay until the stack goes.)
    if (!layout_.fortran)
      file_->release(offset_ + index * layout_.matrix_bytes(), layout_.matrix_bytes());
  }

 private:
  std::shared_ptr<MappedFile> file_;
  uint64_t offset_;
};

}  // namespace

StackLayout make_layout(const NpyHeader& header, const std::string& where) {
  StackLayout l;
  l.descr = header.descr;
  l.elem = parse_elem_type(header.descr, where);
  l.fortran = header.fortran_order;
  const auto& s = header.shape;
  if (s.size() == 0)
    throw InputError(where, "", std::string("0-D array (a scalar): ") + kNeedMatrix);
  if (s.size() == 1 || s.size() > 3)
    throw InputError(where, "", std::to_string(s.size()) + "-D array: " + kNeedMatrix);
  l.ndim = static_cast<int>(s.size());
  l.count = s.size() == 3 ? s[0] : 1;
  l.rows = s[s.size() - 2];
  l.cols = s[s.size() - 1];
  uint64_t bytes = static_cast<uint64_t>(l.elem.size);
  for (int64_t d : s) {
    if (d != 0 && bytes > std::numeric_limits<int64_t>::max() / static_cast<uint64_t>(d))
      throw InputError(where, "", "corrupt header: shape too large");
    bytes *= static_cast<uint64_t>(d);
  }
  l.data_bytes = bytes;
  return l;
}

void check_data_size(const StackLayout& layout, uint64_t available, const std::string& where) {
  if (available < layout.data_bytes)
    throw InputError(where, "",
                     "truncated data: the header says " + std::to_string(layout.data_bytes) +
                         " bytes of data, there are " + std::to_string(available));
}

void copy_matrix(const uint8_t* data, const StackLayout& l, int64_t index, void* dst) {
  if (l.rows == 0 || l.cols == 0) return;
  auto* out = static_cast<uint8_t*>(dst);
  const std::size_t out_row = static_cast<std::size_t>(l.cols) * dtype_size(l.elem.out);
  if (!l.fortran) {
    convert_elements(data + index * l.matrix_bytes(), 1, l.rows * l.cols, l.elem, out);
    return;
  }
  // Fortran order (B, m, n): element (b, r, c) sits at b + B*(r + m*c), so row r of matrix b
  // starts at b + B*r and steps B*m. A 2-D array is the case B = 1.
  for (int64_t r = 0; r < l.rows; ++r) {
    const uint8_t* first = data + (index + l.count * r) * l.elem.size;
    convert_elements(first, l.count * l.rows, l.cols, l.elem, out + r * out_row);
  }
}

std::unique_ptr<MatrixStack> make_mapped_stack(std::shared_ptr<MappedFile> file,
                                               uint64_t data_offset, StackLayout layout,
                                               std::string where) {
  return std::make_unique<MappedStack>(std::move(file), data_offset, std::move(layout),
                                       std::move(where));
}

std::unique_ptr<MatrixStack> open_npy(const std::string& path) {
  auto file = MappedFile::open(path);
  const NpyHeader header =
      file->guarded(path, "", [&] { return parse_npy_header(file->data(), file->size(), path); });
  StackLayout layout = make_layout(header, path);
  check_data_size(layout, file->size() - header.data_offset, path);
  return make_mapped_stack(std::move(file), header.data_offset, std::move(layout), path);
}

void write_npy(const std::string& path, DType dtype, const std::vector<int64_t>& shape,
               const void* data) {
  uint64_t bytes = dtype_size(dtype);
  for (int64_t d : shape) {
    TANDEM_EXPECTS(d >= 0, "negative dimension");
    bytes *= static_cast<uint64_t>(d);
  }
  const std::string header = make_npy_header(dtype, shape);
  AtomicFile out(path);
  out.pwrite_all(header.data(), header.size(), 0);
  if (bytes > 0) out.pwrite_all(data, bytes, header.size());
  out.commit();
}

}  // namespace tandem::io
