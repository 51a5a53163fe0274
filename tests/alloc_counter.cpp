// Allocation counting by interposing glibc's malloc family (or operator new under ASan).
#include "alloc_counter.hpp"

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

#include <malloc.h>

namespace {
std::atomic<int64_t> g_count{0};
std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_peak{0};
std::atomic<int64_t> g_base{0};

}  // namespace

#if defined(__SANITIZE_ADDRESS__)

// Every replaceable form, so that each new pairs with its delete.
namespace {
void* counted(std::size_t n, std::size_t align) {
  g_count.fetch_add(1, std::memory_order_relaxed);
  n = n == 0 ? 1 : n;
  if (align <= alignof(std::max_align_t)) return std::malloc(n);
  return std::aligned_alloc(align, (n + align - 1) / align * align);
}
void* counted_or_throw(std::size_t n, std::size_t align) {
  if (void* p = counted(n, align)) return p;
  throw std::bad_alloc();
}
}  // namespace
void* operator new(std::size_t n) {
  return counted_or_throw(n, 0);
}
void* operator new[](std::size_t n) {
  return counted_or_throw(n, 0);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_or_throw(n, std::size_t(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return counted_or_throw(n, std::size_t(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return counted(n, 0);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return counted(n, 0);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted(n, std::size_t(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted(n, std::size_t(a));
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}

namespace rwd::test {
bool counts_malloc() {
  return false;
}
}  // namespace rwd::test

#else

namespace {
void note_alloc(void* p) {
  if (p == nullptr) return;
  const int64_t live = g_live.fetch_add(int64_t(malloc_usable_size(p)), std::memory_order_relaxed) +
                       int64_t(malloc_usable_size(p));
  int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (live > peak && !g_peak.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
}
void note_free(void* p) {
  if (p != nullptr) g_live.fetch_sub(int64_t(malloc_usable_size(p)), std::memory_order_relaxed);
}
}  // namespace

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);

void* malloc(std::size_t n) {
  g_count.fetch_add(1, std::memory_order_relaxed);
  void* p = __libc_malloc(n);
  note_alloc(p);
  return p;
}
void* calloc(std::size_t n, std::size_t size) {
  g_count.fetch_add(1, std::memory_order_relaxed);
  void* p = __libc_calloc(n, size);
  note_alloc(p);
  return p;
}
void* realloc(void* p, std::size_t n) {
  g_count.fetch_add(1, std::memory_order_relaxed);
  note_free(p);
  void* q = __libc_realloc(p, n);
  note_alloc(q != nullptr ? q : (n == 0 ? nullptr : p));
  return q;
}
void* aligned_alloc(std::size_t align, std::size_t n) {
  g_count.fetch_add(1, std::memory_order_relaxed);
  void* p = __libc_memalign(align, n);
  note_alloc(p);
  return p;
}
void* memalign(std::size_t align, std::size_t n) {
  g_count.fetch_add(1, std::memory_order_relaxed);
  void* p = __libc_memalign(align, n);
  note_alloc(p);
  return p;
}
int posix_memalign(void** out, std::size_t align, std::size_t n) {
  g_count.fetch_add(1, std::memory_order_relaxed);
  void* p = __libc_memalign(align, n);
  if (p == nullptr) return 12;  // ENOMEM
  note_alloc(p);
  *out = p;
  return 0;
}
void free(void* p) {
  note_free(p);
  __libc_free(p);
}
}

namespace rwd::test {
bool counts_malloc() {
  return true;
}
}  // namespace rwd::test

#endif

namespace rwd::test {
int64_t allocation_count() {
  return g_count.load(std::memory_order_relaxed);
}
int64_t live_bytes() {
  return g_live.load(std::memory_order_relaxed);
}
void reset_peak() {
  const int64_t live = g_live.load(std::memory_order_relaxed);
  g_base.store(live, std::memory_order_relaxed);
  g_peak.store(live, std::memory_order_relaxed);
}
int64_t peak_bytes_since_reset() {
  return g_peak.load(std::memory_order_relaxed) - g_base.load(std::memory_order_relaxed);
}
}  // namespace rwd::test
