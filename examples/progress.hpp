// Training progress for the examples: a bar redrawn in place on a terminal, or a plain line
// per interval otherwise (logs, CI), with step, loss, tokens/s and ETA; and the loss curve of
// every run as CSV (run,step,loss,tokens_per_s,elapsed_s) for examples/plot_loss.py.
// Header-only, examples only.
#pragma once

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

namespace examples {

/// "1:05" or "1:02:03".
inline std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = int64_t(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02d}:{:02d}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02d}", s / 60, s % 60);
}

/// "812", "12.3k", "4.56M".
inline std::string format_rate(double per_second) {
  if (per_second >= 1e6) return fmt::format("{:.2f}M", per_second / 1e6);
  if (per_second >= 1e4) return fmt::format("{:.1f}k", per_second / 1e3);
  return fmt::format("{:.0f}", per_second);
}

/// The loss curves of a program's runs, one CSV row per step.
class LossCsv {
 public:
  /// An empty path writes nothing.
  explicit LossCsv(const std::string& path) : path_(path) {
    if (path.empty()) return;
    out_.open(path);
    if (!out_) {
      fmt::print(stderr, "cannot write the loss curve to '{}'; continuing without it\n", path);
      return;
    }
    out_ << "run,step,loss,tokens_per_s,elapsed_s\n";
  }
  void row(const std::string& run, int64_t step, double loss, double tokens_per_s, double elapsed) {
    if (!out_) return;
    const size_t begin = run.find_first_not_of(' ');  // labels are padded for the terminal
    const size_t end = run.find_last_not_of(' ');
    const std::string name = begin == std::string::npos ? run : run.substr(begin, end - begin + 1);
    out_ << fmt::format("{},{},{:.6g},{:.1f},{:.3f}\n", name, step, loss, tokens_per_s, elapsed);
  }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] bool enabled() const { return bool(out_); }

 private:
  std::string path_;
  std::ofstream out_;
};

/// Progress of one training run up to step `total`. Call step() after every step. A run
/// resumed from a checkpoint passes the step it was saved at as `resumed_at`: the steps it
/// reports (lines and CSV) go on from there, resumed_at + 1 to total.
class Progress {
 public:
  Progress(std::string run, int64_t total, LossCsv* csv = nullptr, int64_t resumed_at = 0)
      : run_(std::move(run)),
        total_(total),
        resumed_at_(resumed_at),
        csv_(csv),
        tty_(::isatty(::fileno(stdout)) == 1),
        every_(std::max<int64_t>(1, (total - resumed_at) / 10)),
        start_(Clock::now()),
        last_draw_(start_),
        last_step_(resumed_at) {}

  /// Records step `step` (resumed_at + 1, resumed_at + 2, ...) with its loss and the tokens
  /// it processed.
  void step(int64_t step, double loss, int64_t tokens) {
    tokens_ += tokens;
    interval_loss_ += loss;
    ++interval_steps_;
    ema_ = last_step_ == resumed_at_ ? loss : 0.9 * ema_ + 0.1 * loss;
    last_step_ = step;
    const double elapsed = seconds_since(start_);
    const double rate = elapsed > 0 ? double(tokens_) / elapsed : 0;
    if (csv_) csv_->row(run_, step, loss, rate, elapsed);
    const double eta = elapsed / double(step - resumed_at_) * double(total_ - step);
    if (tty_) {
      // Redraw at most 10 times a second, and always at the last step.
      if (step < total_ && seconds_since(last_draw_) < 0.1) return;
      last_draw_ = Clock::now();
      constexpr int kWidth = 20;
      const int filled = int(kWidth * step / std::max<int64_t>(total_, 1));
      fmt::print("\r{} [{:=<{}}{:<{}}] {}/{} loss {:.4f} {} tok/s ETA {}\x1b[K", run_, "", filled,
                 "", kWidth - filled, step, total_, ema_, format_rate(rate), format_duration(eta));
      std::fflush(stdout);
      drawn_ = true;
    } else if ((step - resumed_at_) % every_ == 0 || step == total_) {
      print_line(eta);
    }
  }

  /// Ends the bar's line on a terminal, or prints the last interval's line when the run
  /// stopped early, before other output.
  void finish() {
    if (tty_ && drawn_) fmt::print("\n");
    if (!tty_ && interval_steps_ > 0) print_line(0);
    drawn_ = false;
  }

  [[nodiscard]] double elapsed() const { return seconds_since(start_); }
  [[nodiscard]] int64_t steps() const { return last_step_; }
  [[nodiscard]] double tokens_per_second() const {
    const double e = elapsed();
    return e > 0 ? double(tokens_) / e : 0;
  }

 private:
  using Clock = std::chrono::steady_clock;
  static double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  }

  // Non-terminal output: the mean loss over the steps since the previous line.
  void print_line(double eta) {
    fmt::print("{} step {}/{} loss {:.4f} {} tok/s elapsed {} ETA {}\n", run_, last_step_, total_,
               interval_loss_ / double(interval_steps_), format_rate(tokens_per_second()),
               format_duration(elapsed()), format_duration(eta));
    std::fflush(stdout);
    interval_loss_ = 0;
    interval_steps_ = 0;
  }

  std::string run_;
  int64_t total_;
  int64_t resumed_at_;
  LossCsv* csv_;
  bool tty_;
  int64_t every_;
  Clock::time_point start_;
  Clock::time_point last_draw_;
  int64_t last_step_;
  int64_t tokens_ = 0;
  double interval_loss_ = 0;
  int64_t interval_steps_ = 0;
  double ema_ = 0;
  bool drawn_ = false;
};

}  // namespace examples
