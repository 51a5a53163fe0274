// Arena block management.
#include "rewind/core/arena.hpp"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace rwd {
namespace {

constexpr size_t kMinBlock = size_t(1) << 16;

std::byte* allocate_block(size_t bytes) {
  void* p = std::aligned_alloc(Arena::kAlign, bytes);
  if (!p) throw std::bad_alloc();
  return static_cast<std::byte*>(p);
}

}  // namespace

void Arena::FreeDeleter::operator()(std::byte* p) const {
  std::free(p);  // NOLINT(cppcoreguidelines-no-malloc): pairs with aligned_alloc
}

void* Arena::allocate_slow(size_t need) {
  // Move on to the next existing block that fits, else add a block at least twice the last.
  while (!blocks_.empty() && current_ + 1 < blocks_.size()) {
    ++current_;
    offset_ = 0;
    if (need <= blocks_[current_].size) {
      offset_ = need;
      used_ += need;
      return blocks_[current_].data.get();
    }
  }
  const size_t last = blocks_.empty() ? 0 : blocks_.back().size;
  const size_t size = std::max({need, kMinBlock, 2 * last});
  blocks_.push_back(Block{std::unique_ptr<std::byte[], FreeDeleter>(allocate_block(size)), size});
  current_ = blocks_.size() - 1;
  offset_ = need;
  used_ += need;
  return blocks_[current_].data.get();
}

void Arena::reset() {
  peak_ = std::max(peak_, used_);
  if (blocks_.size() > 1 && current_ > 0) {
    // Last round needed more than the first block: replace all blocks by one that holds the
    // peak, so the next rounds are served from a single contiguous block.
    size_t total = 0;
    for (const Block& b : blocks_) total += b.size;
    blocks_.clear();
    blocks_.push_back(
        Block{std::unique_ptr<std::byte[], FreeDeleter>(allocate_block(total)), total});
  }
  current_ = 0;
  offset_ = 0;
  used_ = 0;
}

size_t Arena::capacity() const {
  size_t total = 0;
  for (const Block& b : blocks_) total += b.size;
  return total;
}

}  // namespace rwd
