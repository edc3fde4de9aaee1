// SPDX-License-Identifier: Apache-2.0
// Internal to host/io: how a validated .npy array maps onto a stack of matrices, and the
// MatrixStack that reads one straight from a mapping (.npy files, stored .npz members).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "io/element_type.h"
#include "io/mapped_file.h"
#include "io/npy.h"

namespace tandem::io {

/// Total header length (magic to padding) from the first bytes of a .npy stream: at least 10
/// bytes for version 1.0, 12 for 2.0/3.0. Throws InputError (bad magic, bad version).
uint64_t npy_header_size(const void* bytes, std::size_t size, const std::string& where);

/// A .npy array seen as `count` matrices `rows×cols`.
struct StackLayout {
  int64_t count = 1;
  int64_t rows = 0;
  int64_t cols = 0;
  int ndim = 2;  ///< 2 for a matrix, 3 for a stack
  bool fortran = false;
  ElemType elem;
  std::string descr;        ///< as stored
  uint64_t data_bytes = 0;  ///< count*rows*cols*elem.size

  /// Bytes of one stored matrix.
  uint64_t matrix_bytes() const { return static_cast<uint64_t>(rows * cols) * elem.size; }
};

/// Validates dtype and dimensionality and computes the layout; throws InputError naming `where`
/// ("1-D array: need a matrix (2-D) or a stack of matrices (3-D)", "unsupported dtype ...").
StackLayout make_layout(const NpyHeader& header, const std::string& where);

/// Throws "truncated data" naming `where` when fewer than layout.data_bytes are `available`.
void check_data_size(const StackLayout& layout, uint64_t available, const std::string& where);

/// Copies matrix `index` of an array whose data starts at `data` (all `layout.data_bytes` of it)
/// into `dst`, row-major and converted to layout.elem.out.
void copy_matrix(const uint8_t* data, const StackLayout& layout, int64_t index, void* dst);

/// The shape half of a MatrixStack, answered from its StackLayout; subclasses supply read().
class LayoutStack : public MatrixStack {
 public:
  int64_t count() const override { return layout_.count; }
  int64_t rows() const override { return layout_.rows; }
  int64_t cols() const override { return layout_.cols; }
  int ndim() const override { return layout_.ndim; }
  DType dtype() const override { return layout_.elem.out; }
  const std::string& stored_descr() const override { return layout_.descr; }
  const std::string& where() const override { return where_; }

 protected:
  explicit LayoutStack(std::string where, StackLayout layout = {})
      : where_(std::move(where)), layout_(std::move(layout)) {}
  std::string where_;
  StackLayout layout_;
};

/// A MatrixStack reading from a mapped file: `data_offset` is where the array data begins.
std::unique_ptr<MatrixStack> make_mapped_stack(std::shared_ptr<MappedFile> file,
                                               uint64_t data_offset, StackLayout layout,
                                               std::string where);

}  // namespace tandem::io
