// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>

namespace tandem {

/// Keeps the pipeline's per-matrix buffers for reuse. A fresh 8 MB block costs 2,048 page
/// faults and the kernel's zeroing of every page, more than the copy that then fills it; the
/// pipeline needs blocks of the same few sizes over and over. Holds at most `cap` idle bytes
/// (idle blocks of other sizes are dropped first), so memory stays bounded.
class BufferPool {
 public:
  struct Free {
    void operator()(unsigned char* p) const { std::free(p); }
  };
  using Block = std::unique_ptr<unsigned char[], Free>;

  explicit BufferPool(std::size_t cap) : cap_(cap) {}

  /// A block of `bytes` bytes (uninitialised), idle one when there is one.
  Block take(std::size_t bytes) {
    if (bytes == 0) return nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = idle_.find(bytes);
      if (it != idle_.end()) {
        Block b = std::move(it->second);
        idle_.erase(it);
        held_ -= bytes;
        return b;
      }
    }
    return allocate(bytes);
  }

  /// A new block, uninitialised. (Transparent huge pages were tried for large blocks: with
  /// direct compaction they made first touch slower and far less predictable.)
  static Block allocate(std::size_t bytes) {
    Block b(static_cast<unsigned char*>(std::malloc(bytes)));
    if (!b) throw std::bad_alloc();
    return b;
  }

  /// Returns a block taken with take(bytes).
  void give(Block block, std::size_t bytes) {
    if (!block || bytes > cap_) return;
    std::lock_guard<std::mutex> lock(mu_);
    while (held_ + bytes > cap_ && !idle_.empty()) {
      auto victim = idle_.begin()->first == bytes ? std::prev(idle_.end()) : idle_.begin();
      held_ -= victim->first;
      idle_.erase(victim);
    }
    held_ += bytes;
    idle_.emplace(bytes, std::move(block));
  }

  std::size_t idle_bytes() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_;
  }

 private:
  std::size_t cap_;
  std::size_t held_ = 0;
  std::multimap<std::size_t, Block> idle_;
  std::mutex mu_;
};

/// Bytes that are written before they are read: unlike std::vector, sizing one does not zero
/// it (for a 1000×1000 matrix that is 24 MB of memset per item, for nothing). Its memory comes
/// from and goes back to a BufferPool when it has one.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(BufferPool* pool) : pool_(pool) {}
  Buffer(Buffer&&) = default;
  Buffer& operator=(Buffer&& other) {
    release();
    data_ = std::move(other.data_);
    size_ = other.size_;
    pool_ = other.pool_;
    other.size_ = 0;
    return *this;
  }
  ~Buffer() { release(); }

  void resize(std::size_t n) {
    if (n == size_) return;
    release();
    data_ = pool_ ? pool_->take(n) : n > 0 ? BufferPool::allocate(n) : nullptr;
    size_ = n;
  }
  unsigned char* data() { return data_.get(); }
  const unsigned char* data() const { return data_.get(); }
  void release() {
    if (pool_) pool_->give(std::move(data_), size_);
    data_.reset();
    size_ = 0;
  }

 private:
  BufferPool::Block data_;
  std::size_t size_ = 0;
  BufferPool* pool_ = nullptr;
};

}  // namespace tandem
