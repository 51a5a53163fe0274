// Arena: the bump allocator behind a graph's values, gradients and op scratch data.
// reset() keeps the memory, so a training loop that reuses its graph stops allocating once
// the first steps have sized the arena.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace rwd {

class Arena {
 public:
  static constexpr size_t kAlign = 64;

  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  Arena(Arena&&) noexcept = default;
  Arena& operator=(Arena&&) noexcept = default;
  ~Arena() = default;

  /// `bytes` of uninitialised memory aligned to 64 bytes, valid until reset().
  void* allocate(size_t bytes) {
    const size_t need = (bytes + kAlign - 1) & ~(kAlign - 1);
    if (!blocks_.empty() && offset_ + need <= blocks_[current_].size) {
      void* p = blocks_[current_].data.get() + offset_;
      offset_ += need;
      used_ += need;
      return p;
    }
    return allocate_slow(need);
  }

  /// Forgets every allocation but keeps the memory. When the last round spilled over several
  /// blocks, they are merged into one block big enough for all of it (one allocation, once).
  void reset();

  /// Bytes handed out since the last reset().
  [[nodiscard]] size_t bytes_used() const { return used_; }
  /// The most bytes handed out in any round since construction.
  [[nodiscard]] size_t peak_bytes() const { return peak_ > used_ ? peak_ : used_; }
  /// Bytes held from the system.
  [[nodiscard]] size_t capacity() const;

 private:
  struct FreeDeleter {
    void operator()(std::byte* p) const;
  };
  struct Block {
    std::unique_ptr<std::byte[], FreeDeleter> data;
    size_t size = 0;
  };

  void* allocate_slow(size_t need);

  std::vector<Block> blocks_;
  size_t current_ = 0;
  size_t offset_ = 0;
  size_t used_ = 0;
  size_t peak_ = 0;
};

}  // namespace rwd
