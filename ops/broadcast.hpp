// Broadcasting for binary elementwise ops, in one place: the output shape and index mapping
// (NumPy rules over rank <= 4), and the loop that sums a gradient back to an input's shape.
// Internal to ops/, but installed because user ops may broadcast the same way.
#pragma once

#include <cstdint>

#include "rewind/core/shape.hpp"

namespace rwd::detail {

struct Broadcast {
  enum class Kind {
    kSame,    // a, b and out have one shape
    kTileB,   // b's elements repeat contiguously: out[r*n + j] pairs with b[j]
    kTileA,   // the same with a repeating
    kGeneral  // any other NumPy broadcast: strided loops
  };
  Kind kind = Kind::kSame;
  Shape out;
  int64_t n = 0;                   // kTile*: numel of the repeating operand
  int64_t dims[4] = {1, 1, 1, 1};  // out's dims, right-aligned into rank 4
  int64_t sa[4] = {0, 0, 0, 0};    // a's strides over those dims (0 where a is broadcast)
  int64_t sb[4] = {0, 0, 0, 0};
};

/// The broadcast of shapes a and b, or ShapeError naming `op` and both shapes.
Broadcast broadcast_shapes(const char* op, const Shape& a, const Shape& b);

/// Calls f(out_index, a_index, b_index) for every output element.
template <class F>
inline void for_each_broadcast(const Broadcast& bc, F&& f) {
  switch (bc.kind) {
    case Broadcast::Kind::kSame: {
      const int64_t n = bc.out.numel();
      for (int64_t i = 0; i < n; ++i) f(i, i, i);
      return;
    }
    case Broadcast::Kind::kTileB: {
      const int64_t reps = bc.out.numel() / bc.n;
      for (int64_t r = 0; r < reps; ++r)
        for (int64_t j = 0; j < bc.n; ++j) f(r * bc.n + j, r * bc.n + j, j);
      return;
    }
    case Broadcast::Kind::kTileA: {
      const int64_t reps = bc.out.numel() / bc.n;
      for (int64_t r = 0; r < reps; ++r)
        for (int64_t j = 0; j < bc.n; ++j) f(r * bc.n + j, j, r * bc.n + j);
      return;
    }
    case Broadcast::Kind::kGeneral: {
      int64_t o = 0;
      for (int64_t i0 = 0; i0 < bc.dims[0]; ++i0)
        for (int64_t i1 = 0; i1 < bc.dims[1]; ++i1)
          for (int64_t i2 = 0; i2 < bc.dims[2]; ++i2) {
            const int64_t a = i0 * bc.sa[0] + i1 * bc.sa[1] + i2 * bc.sa[2];
            const int64_t b = i0 * bc.sb[0] + i1 * bc.sb[1] + i2 * bc.sb[2];
            for (int64_t i3 = 0; i3 < bc.dims[3]; ++i3, ++o)
              f(o, a + i3 * bc.sa[3], b + i3 * bc.sb[3]);
          }
      return;
    }
  }
}

}  // namespace rwd::detail
