// The thread setting and the worker thread.
#include "rewind/core/threads.hpp"

#include <fmt/format.h>

#include <atomic>

#include "rewind/core/error.hpp"

namespace rwd {
namespace {
std::atomic<int> g_threads{1};
}  // namespace

void set_num_threads(int threads) {
  if (threads < 1)
    throw ValueError(fmt::format("set_num_threads: {} threads; at least 1 is needed", threads));
  g_threads.store(threads, std::memory_order_relaxed);
}

int num_threads() {
  return g_threads.load(std::memory_order_relaxed);
}

Worker::Worker() : thread_([this] { loop(); }) {}

Worker::~Worker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Worker::start_raw(void (*fn)(void*), void* arg) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pending_ || running_) throw GraphError("Worker::start: the previous job is still running");
    fn_ = fn;
    arg_ = arg;
    pending_ = true;
    error_ = nullptr;
  }
  wake_.notify_one();
}

void Worker::wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [this] { return !pending_ && !running_; });
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

void Worker::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return pending_ || stop_; });
    if (stop_ && !pending_) return;
    pending_ = false;
    running_ = true;
    void (*fn)(void*) = fn_;
    void* arg = arg_;
    lock.unlock();
    std::exception_ptr error;
    try {
      fn(arg);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    running_ = false;
    error_ = error;
    done_.notify_all();
  }
}

}  // namespace rwd
