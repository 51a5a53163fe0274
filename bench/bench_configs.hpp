// The benchmark configurations shared by rewind's, LibTorch's and oneDNN's training-step
// benchmarks.
#pragma once

#include <cstdint>
#include <string_view>

namespace rwd::bench {

struct Config {
  const char* name;
  int64_t steps;   // T
  int64_t batch;   // B
  int64_t input;   // I
  int64_t hidden;  // H
};

inline constexpr Config kConfigs[] = {
    {"small", 100, 1, 32, 64},
    {"ptb", 35, 20, 200, 200},
    {"medium", 50, 32, 256, 256},
    {"large", 50, 64, 512, 512},
};

/// The standard count: forward = 2·B·G·H·(I+H) per step and direction; a training step is
/// three times the forward.
inline double train_step_flops(const Config& c, int gates, int directions) {
  const double forward = 2.0 * double(c.batch) * gates * double(c.hidden) *
                         double(c.input + c.hidden) * double(c.steps) * directions;
  return 3.0 * forward;
}

/// Which layer and configuration get a /threads:2 row, the same for rewind, LibTorch and
/// oneDNN: the bidirectional LSTM at every size, the other layers at medium and large.
inline bool has_two_thread_row(std::string_view layer, std::string_view cfg) {
  return layer == "bilstm" || cfg == "medium" || cfg == "large";
}

/// Registers BM_LibTorchTrainStep rows (bench/torch_steps.cpp, only built with LibTorch).
void register_libtorch_benchmarks(int threads);

/// Registers BM_OneDNNTrainStep rows (bench/onednn_steps.cpp, only built with oneDNN); oneDNN
/// runs on `threads` OpenMP threads.
void register_onednn_benchmarks(int threads);

}  // namespace rwd::bench
