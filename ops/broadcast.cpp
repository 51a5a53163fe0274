// Broadcast shape rules (NumPy's: align right, a dimension of 1 stretches).
#include "rewind/ops/broadcast.hpp"

#include <fmt/format.h>

#include "rewind/core/error.hpp"

namespace rwd::detail {
namespace {

// Is `small` (leading 1s ignored) equal to the trailing dims of `big`? Then small's elements
// repeat contiguously across big.
bool tiles(const Shape& small, const Shape& big) {
  int r = small.rank();
  int lead = 0;
  while (lead < r && small[lead] == 1) ++lead;
  const int k = r - lead;
  if (k > big.rank()) return false;
  for (int i = 0; i < k; ++i)
    if (small[lead + i] != big[big.rank() - k + i]) return false;
  return true;
}

}  // namespace

Broadcast broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  Broadcast bc;
  if (a == b) {
    bc.kind = Broadcast::Kind::kSame;
    bc.out = a;
    return bc;
  }
  const int rank = std::max(a.rank(), b.rank());
  int64_t out_dims[4] = {1, 1, 1, 1};
  for (int i = 0; i < rank; ++i) {
    const int ia = a.rank() - rank + i;
    const int ib = b.rank() - rank + i;
    const int64_t da = ia >= 0 ? a[ia] : 1;
    const int64_t db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      throw ShapeError(fmt::format(
          "{}: shapes {} and {} do not broadcast (dimension {} from the right: {} vs {})", op,
          a.str(), b.str(), rank - i, da, db));
    out_dims[i] = da == 1 ? db : da;
  }
  bc.out = Shape(std::span<const int64_t>(out_dims, size_t(rank)));
  if (bc.out == a && tiles(b, a)) {
    bc.kind = Broadcast::Kind::kTileB;
    bc.n = b.numel();
    return bc;
  }
  if (bc.out == b && tiles(a, b)) {
    bc.kind = Broadcast::Kind::kTileA;
    bc.n = a.numel();
    return bc;
  }
  bc.kind = Broadcast::Kind::kGeneral;
  const int pad = 4 - rank;
  for (int i = 0; i < rank; ++i) bc.dims[pad + i] = out_dims[i];
  // Strides of a and b, right-aligned, zero where the operand has size 1.
  auto fill = [&](const Shape& s, int64_t* strides) {
    int64_t stride = 1;
    for (int i = s.rank() - 1; i >= 0; --i) {
      const int slot = 4 - s.rank() + i;
      strides[slot] = s[i] == 1 ? 0 : stride;
      stride *= s[i];
    }
  };
  fill(a, bc.sa);
  fill(b, bc.sb);
  return bc;
}

}  // namespace rwd::detail
