// The thread setting and the worker thread.
#include "rewind/core/threads.hpp"

#include <fmt/format.h>

#include <atomic>

#include "rewind/core/error.hpp"

namespace rwd {
namespace {
std::atomic<int> g_threads{1};

// Note [Thread budget]: rewind runs at most num_threads() threads for one caller. Its only
// concurrency today is a Worker running the reverse direction of a bidirectional layer
// while the caller runs the forward one; during that time each side may use half. A thread
// counts the jobs it has started and not yet waited for; a worker thread always works for
// someone who started it. Products ask thread_budget() how many threads their provider may
// use (ops/blas.cpp).
thread_local int t_jobs_running = 0;
thread_local bool t_is_worker = false;
}  // namespace

void set_num_threads(int threads) {
  if (threads < 1)
    throw ValueError(fmt::format("set_num_threads: {} threads; at least 1 is needed", threads));
  g_threads.store(threads, std::memory_order_relaxed);
}

int num_threads() {
  return g_threads.load(std::memory_order_relaxed);
}

int detail::thread_budget() {
  const int n = num_threads();
  const int sharing = t_is_worker ? 2 : 1 + t_jobs_running;
  return n > sharing ? n / sharing : 1;
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
    counted_ = true;
  }
  ++t_jobs_running;
  wake_.notify_one();
}

void Worker::wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [this] { return !pending_ && !running_; });
  if (counted_) {  // the thread that started the job waits for it (or its owner's destructor)
    counted_ = false;
    if (t_jobs_running > 0) --t_jobs_running;
  }
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

void Worker::loop() {
  t_is_worker = true;
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
