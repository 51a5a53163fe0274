// thin_gemm, the product for the thin operands of recurrent steps (a batch of a few rows
// times a weight): C[m, n] (+)= A[m, k] · B[k, n], all row-major, B read in place. BLAS
// packs B into its own layout on every call, which for one time step costs as much as the
// product itself; here B is streamed as stored (Note [Thin products] in ops/linalg.cpp).
//
// Tiles of up to 6 rows × kPanelVectors vectors of C stay in registers while k runs; A is
// broadcast one element at a time, B is loaded one row-slice per k. GCC vector extensions
// give the width of the translation unit: 16 floats per vector with AVX-512, 8 with AVX2, 4
// with SSE2; the tile is sized so that accumulators, B and A fit in the vector registers.
#pragma once

#include <cstdint>

#include "rewind/ops/kernels/common_body.hpp"

namespace rwd::detail::REWIND_KERNEL_ISA {
namespace thin {

// Vectors of C per tile row: 6 rows × 4 + 4 of B + 1 of A = 29 of 32 registers with
// AVX-512; 6 × 2 + 2 + 1 = 15 of 16 below.
constexpr int kPanelVectors = kVectorRegisters >= 32 ? 4 : 2;
// Vectors of C in the one-row kernel: 16 of 32 registers, 8 of 16.
constexpr int kRowVectors = kVectorRegisters / 2;

// One tile: MR rows × NV vectors of C (vectors of Bytes bytes).
template <class T, int MR, int NV, int Bytes = kVectorBytes>
inline void tile(int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc,
                 bool accumulate) {
  using V = typename Vec<T, Bytes>::type;
  constexpr int L = Vec<T, Bytes>::kLanes;
  V sum[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) sum[r][v] = accumulate ? load<V>(c + r * ldc + v * L) : V{};
  for (int64_t p = 0; p < k; ++p) {
    V bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = load<V>(b + p * ldb + v * L);
    for (int r = 0; r < MR; ++r) {
      const T s = a[r * lda + p];
      const V av = V{} + s;
      for (int v = 0; v < NV; ++v) sum[r][v] += av * bv[v];
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) store<V>(c + r * ldc + v * L, sum[r][v]);
}

// Columns that do not fill a vector: plain loops.
template <class T>
void tail(int64_t rows, int64_t cols, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
          T* c, int64_t ldc, bool accumulate) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      T s = accumulate ? c[r * ldc + j] : T(0);
      for (int64_t p = 0; p < k; ++p) s += a[r * lda + p] * b[p * ldb + j];
      c[r * ldc + j] = s;
    }
}

// All rows of C for columns [j, j + NV·L): the B panel [k, NV·L] is read from L1 by every
// row block (columns outer, rows inner), and rows are split into blocks of nearly equal
// height (20 rows: 4 × 5, not 3 × 6 + 2) so that no thin block wastes the FMA units.
template <class T, int NV, int Bytes = kVectorBytes>
void column_panel(int64_t m, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
                  int64_t ldc, bool accumulate) {
  constexpr int64_t kMaxRows = 6;
  const int64_t blocks = (m + kMaxRows - 1) / kMaxRows;
  int64_t i = 0;
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t rows = (m - i + (blocks - blk) - 1) / (blocks - blk);  // balanced
    const T* ai = a + i * lda;
    T* ci = c + i * ldc;
    switch (rows) {
      case 6:
        tile<T, 6, NV, Bytes>(k, ai, lda, b, ldb, ci, ldc, accumulate);
        break;
      case 5:
        tile<T, 5, NV, Bytes>(k, ai, lda, b, ldb, ci, ldc, accumulate);
        break;
      case 4:
        tile<T, 4, NV, Bytes>(k, ai, lda, b, ldb, ci, ldc, accumulate);
        break;
      case 3:
        tile<T, 3, NV, Bytes>(k, ai, lda, b, ldb, ci, ldc, accumulate);
        break;
      case 2:
        tile<T, 2, NV, Bytes>(k, ai, lda, b, ldb, ci, ldc, accumulate);
        break;
      default:
        tile<T, 1, NV, Bytes>(k, ai, lda, b, ldb, ci, ldc, accumulate);
        break;
    }
    i += rows;
  }
}

template <class T>
void thin_gemm_block(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
                     int64_t ldb, T* c, int64_t ldc, bool accumulate) {
  constexpr int64_t L = Vec<T>::kLanes;
  int64_t j = 0;
  if (m == 1) {
    // One row: a whole row-slice of C (kRowVectors vectors) stays in registers and B is read
    // row by row, a contiguous stream, with enough independent sums to keep the FMA units
    // busy.
    for (; j + kRowVectors * L <= n; j += kRowVectors * L)
      tile<T, 1, kRowVectors>(k, a, lda, b + j, ldb, c + j, ldc, accumulate);
  }
  for (; j + kPanelVectors * L <= n; j += kPanelVectors * L)
    column_panel<T, kPanelVectors>(m, k, a, lda, b + j, ldb, c + j, ldc, accumulate);
  for (; j + L <= n; j += L) column_panel<T, 1>(m, k, a, lda, b + j, ldb, c + j, ldc, accumulate);
  if constexpr (kVectorBytes > 16) {  // half a vector more (8 floats with AVX-512)
    constexpr int kHalfBytes = kVectorBytes / 2;
    constexpr int64_t kHalf = Vec<T, kHalfBytes>::kLanes;
    for (; j + kHalf <= n; j += kHalf)
      column_panel<T, 1, kHalfBytes>(m, k, a, lda, b + j, ldb, c + j, ldc, accumulate);
  }
  if (j < n) tail<T>(m, n - j, k, a, lda, b + j, ldb, c + j, ldc, accumulate);
}

}  // namespace thin

// k is cut into slices whose B panel ([slice, 64 columns]) fits in L1; C is carried from
// one slice to the next.
template <class T>
void thin_gemm(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
               T* c, int64_t ldc, bool accumulate) {
  constexpr int64_t kSlice = int64_t(128 * 4) / int64_t(sizeof(T));  // 32 KB of B per 64 columns
  if (k <= kSlice + kSlice / 2)
    return thin::thin_gemm_block(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
  for (int64_t p = 0; p < k; p += kSlice) {
    const int64_t len = min_of(kSlice, k - p);
    thin::thin_gemm_block(m, n, len, a + p, lda, b + p * ldb, ldb, c, ldc, accumulate || p > 0);
  }
}

}  // namespace rwd::detail::REWIND_KERNEL_ISA
