// Generator: a small, seedable, platform-independent random source (xoshiro256**, seeded by
// splitmix64). The same seed gives the same numbers on every compiler and library, unlike
// std::normal_distribution, so tests and examples are reproducible.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace rwd {

class Generator {
 public:
  /// The seed of a default-constructed Generator. Layers built without a Generator
  /// (Linear(3, 4), LSTM(options), ...) draw their initial weights from a fresh Generator with
  /// this seed.
  static constexpr uint64_t kDefaultSeed = 0x5eed;

  explicit Generator(uint64_t seed = kDefaultSeed) { seed_with(seed); }

  void seed_with(uint64_t seed);

  /// 64 uniformly random bits.
  uint64_t next_u64();
  /// Uniform in [0, 1), 53 random bits.
  double uniform();
  /// Uniform in [lo, hi) (lo when lo == hi). lo + (hi − lo)·u can round up to hi; such a
  /// draw is moved to the largest double below hi.
  double uniform(double lo, double hi) {
    const double v = lo + (hi - lo) * uniform();
    return v < hi || !(lo < hi) ? v : std::max(lo, std::nextafter(hi, lo));
  }
  /// Standard normal (Box-Muller; the second value of each pair is kept for the next call).
  double normal();
  double normal(double mean, double stddev) { return mean + stddev * normal(); }
  /// Uniform integer in [0, n), n > 0, without modulo bias.
  uint64_t below(uint64_t n);

 private:
  uint64_t s_[4] = {};
  double spare_ = 0.0;
  bool has_spare_ = false;
};

namespace detail {
/// Lets a constructor without a Generator delegate to the one that takes Generator&:
/// `Linear(in, out, bias) : Linear(in, out, detail::as_lvalue(Generator()), bias) {}`. The
/// temporary lives until the delegated constructor returns.
inline Generator& as_lvalue(Generator&& gen) {
  return gen;
}
}  // namespace detail

}  // namespace rwd
