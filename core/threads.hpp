// Threads: how many threads rewind may use, and Worker, one persistent helper thread that
// runs a job while the calling thread does something else (the second direction of a
// bidirectional layer). No allocation per job, so training steps stay allocation-free.
#pragma once

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace rwd {

/// The number of threads rewind's layers may use (default 1). With 2 or more, the two
/// directions of a bidirectional recurrent layer run concurrently, forward and backward.
/// Products also follow it: a GEMM provider that has threads of its own (oneDNN) may use
/// num_threads() of them, shared with the directions running concurrently (Note [Thread
/// budget] in core/threads.cpp), so rewind never runs more threads than this.
void set_num_threads(int threads);
[[nodiscard]] int num_threads();

namespace detail {
/// The threads one operation on the calling thread may use now: num_threads(), divided among
/// the rewind threads running at this moment on behalf of the caller (at least 1).
[[nodiscard]] int thread_budget();
}  // namespace detail

class Worker {
 public:
  Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  /// Runs job() on the worker thread and returns at once; `job` must stay alive until
  /// wait() returns. The previous job must be finished (wait()).
  template <class Job>
  void start(Job& job) {
    start_raw([](void* j) { (*static_cast<Job*>(j))(); }, &job);
  }
  [[deprecated("pass a callable: start(job), where job() runs on the worker")]] void start(
      void (*fn)(void*), void* arg) {
    start_raw(fn, arg);
  }
  /// Blocks until the current job is done and rethrows its exception, if any. Returns at
  /// once when no job is running.
  void wait();

 private:
  void start_raw(void (*fn)(void*), void* arg);
  void loop();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  void (*fn_)(void*) = nullptr;
  void* arg_ = nullptr;
  bool pending_ = false;
  bool running_ = false;
  bool stop_ = false;
  bool counted_ = false;  // start() counted this job in its caller's thread budget
  std::exception_ptr error_;
  std::thread thread_;  // last: starts after the members it uses exist
};

}  // namespace rwd
