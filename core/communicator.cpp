// Communicator over MPI: the only file of rewind that includes mpi.h.
#include "rewind/core/communicator.hpp"

#include <fmt/format.h>
#include <mpi.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <exception>
#include <vector>

namespace rwd {

namespace {

template <Scalar T>
MPI_Datatype mpi_type() {
  if constexpr (std::is_same_v<T, float>)
    return MPI_FLOAT;
  else
    return MPI_DOUBLE;
}

// Throws CommError "Communicator::<what>: <MPI's message>" unless `code` is MPI_SUCCESS.
void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  std::vector<char> text(MPI_MAX_ERROR_STRING);
  int length = 0;
  if (MPI_Error_string(code, text.data(), &length) != MPI_SUCCESS) length = 0;
  throw CommError(fmt::format("Communicator::{}: MPI error {}: {}", what, code,
                              std::string(text.data(), size_t(length))));
}

// MPI counts are int: one call moves at most INT_MAX elements.
int count_of(size_t n, const char* what) {
  if (n > size_t(INT_MAX))
    throw CommError(
        fmt::format("Communicator::{}: {} elements exceed MPI's int count ({})", what, n, INT_MAX));
  return int(n);
}

}  // namespace

struct Communicator::Impl {
  MPI_Comm comm = MPI_COMM_NULL;
  bool owns_mpi = false;  // this Communicator initialized MPI, so it finalizes it
  int rank = 0;
  int size = 1;
  std::vector<MPI_Request> pending;
  double timeout_seconds = 0;  // 0: wait for ever

  // Completes `requests`: MPI_Waitall, or with a timeout a polling loop that ends every rank
  // (abort) when the deadline passes first. `what` names the collective in messages.
  void finish(std::vector<MPI_Request>& requests, const char* what, const Communicator& self) {
    if (requests.empty()) return;
    if (timeout_seconds <= 0) {
      check(MPI_Waitall(int(requests.size()), requests.data(), MPI_STATUSES_IGNORE), what);
      return;
    }
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_seconds);
    for (;;) {
      int done = 0;
      check(MPI_Testall(int(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE), what);
      if (done != 0) return;
      if (Clock::now() > deadline)
        self.abort(fmt::format(
            "Communicator::{}: not complete after the timeout of {} s: at least one of the {} "
            "ranks has not joined it (stopped, stuck, or calling collectives in another order)",
            what, timeout_seconds, size));
    }
  }
};

Communicator::Communicator() : impl_(std::make_unique<Impl>()) {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized != 0)
    throw CommError(
        "Communicator: MPI was already finalized in this process; make the "
        "Communicator before anything finalizes MPI, and keep it alive");
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized == 0) {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    impl_->owns_mpi = true;
  }
  check(MPI_Comm_dup(MPI_COMM_WORLD, &impl_->comm), "MPI_Comm_dup");
  // Errors come back as codes, to become CommError, instead of aborting inside MPI.
  check(MPI_Comm_set_errhandler(impl_->comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(impl_->comm, &impl_->rank), "MPI_Comm_rank");
  check(MPI_Comm_size(impl_->comm, &impl_->size), "MPI_Comm_size");
}

Communicator::~Communicator() {
  // Unwinding past a live Communicator means this rank is leaving on an error while the
  // others may be waiting in a collective: finalizing could hang them, so end them all.
  if (std::uncaught_exceptions() > 0)
    abort("unwinding an exception past the Communicator (see the message above, if any)");
  if (!impl_->pending.empty())
    MPI_Waitall(int(impl_->pending.size()), impl_->pending.data(), MPI_STATUSES_IGNORE);
  MPI_Comm_free(&impl_->comm);
  if (impl_->owns_mpi) MPI_Finalize();
}

int Communicator::rank() const {
  return impl_->rank;
}
int Communicator::size() const {
  return impl_->size;
}

template <Scalar T>
void Communicator::broadcast(std::span<T> data, int root) {
  if (root < 0 || root >= impl_->size)
    throw CommError(
        fmt::format("Communicator::broadcast: root {} is not a rank (size {})", root, impl_->size));
  std::vector<MPI_Request> request(1, MPI_REQUEST_NULL);
  check(MPI_Ibcast(data.data(), count_of(data.size(), "broadcast"), mpi_type<T>(), root,
                   impl_->comm, request.data()),
        "broadcast (MPI_Ibcast)");
  impl_->finish(request, "broadcast", *this);
}

template <Scalar T>
void Communicator::allreduce_sum(std::span<T> data) {
  std::vector<MPI_Request> request(1, MPI_REQUEST_NULL);
  check(MPI_Iallreduce(MPI_IN_PLACE, data.data(), count_of(data.size(), "allreduce_sum"),
                       mpi_type<T>(), MPI_SUM, impl_->comm, request.data()),
        "allreduce_sum (MPI_Iallreduce)");
  impl_->finish(request, "allreduce_sum", *this);
}

template <Scalar T>
void Communicator::allreduce_average(std::span<T> data) {
  allreduce_sum(data);
  const T scale = T(1) / T(impl_->size);
  for (T& v : data) v *= scale;
}

template <Scalar T>
size_t Communicator::start_allreduce_sum(std::span<T> data) {
  MPI_Request request = MPI_REQUEST_NULL;
  check(MPI_Iallreduce(MPI_IN_PLACE, data.data(), count_of(data.size(), "start_allreduce_sum"),
                       mpi_type<T>(), MPI_SUM, impl_->comm, &request),
        "start_allreduce_sum (MPI_Iallreduce)");
  impl_->pending.push_back(request);
  return impl_->pending.size();
}

void Communicator::wait_all() {
  std::vector<MPI_Request> requests;
  requests.swap(impl_->pending);
  impl_->finish(requests, "wait_all (the all-reduces started)", *this);
}

void Communicator::barrier() {
  std::vector<MPI_Request> request(1, MPI_REQUEST_NULL);
  check(MPI_Ibarrier(impl_->comm, request.data()), "barrier (MPI_Ibarrier)");
  impl_->finish(request, "barrier", *this);
}

void Communicator::set_timeout(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds))
    throw CommError(
        fmt::format("Communicator::set_timeout: seconds must be finite and >= 0 "
                    "(0: no timeout), got {}",
                    seconds));
  impl_->timeout_seconds = seconds;
}

double Communicator::timeout() const {
  return impl_->timeout_seconds;
}

void Communicator::abort(const std::string& message, int code) const {
  std::fprintf(stderr, "rewind: rank %d: %s\n", impl_->rank, message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::terminate();  // MPI_Abort does not return; this only satisfies [[noreturn]]
}

int Communicator::run(const std::function<void()>& body) const {
  try {
    body();
  } catch (const std::exception& e) {
    abort(e.what());
  } catch (...) {
    abort("an exception that is not a std::exception");
  }
  return 0;
}

#define REWIND_COMMUNICATOR_INSTANTIATE(T)                        \
  template void Communicator::broadcast<T>(std::span<T>, int);    \
  template void Communicator::allreduce_sum<T>(std::span<T>);     \
  template void Communicator::allreduce_average<T>(std::span<T>); \
  template size_t Communicator::start_allreduce_sum<T>(std::span<T>);
REWIND_COMMUNICATOR_INSTANTIATE(float)
REWIND_COMMUNICATOR_INSTANTIATE(double)
#undef REWIND_COMMUNICATOR_INSTANTIATE

}  // namespace rwd
