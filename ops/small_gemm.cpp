// thin_gemm: tiles of up to 6 rows × 4 vectors of C stay in registers while k runs; A is
// broadcast one element at a time, B is loaded one row-slice per k. GCC vector extensions
// keep it portable: 16 floats per vector with AVX-512, 8 with AVX2.
#include "rewind/ops/small_gemm.hpp"

#include <cstring>

namespace rwd::detail {
namespace {

#if defined(__AVX512F__)
constexpr int kVectorBytes = 64;
#else
constexpr int kVectorBytes = 32;
#endif

template <class T>
struct Vec {
  static constexpr int kLanes = kVectorBytes / int(sizeof(T));
  typedef T type __attribute__((vector_size(kVectorBytes)));
};

template <class T>
inline typename Vec<T>::type load(const T* p) {
  typename Vec<T>::type v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <class T>
inline void store(T* p, typename Vec<T>::type v) {
  std::memcpy(p, &v, sizeof(v));
}

// One tile: MR rows × NV vectors of C.
template <class T, int MR, int NV>
inline void tile(int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc,
                 bool accumulate) {
  using V = typename Vec<T>::type;
  constexpr int L = Vec<T>::kLanes;
  V sum[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) sum[r][v] = accumulate ? load(c + r * ldc + v * L) : V{};
  for (int64_t p = 0; p < k; ++p) {
    V bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = load(b + p * ldb + v * L);
    for (int r = 0; r < MR; ++r) {
      const T s = a[r * lda + p];
      const V av = V{} + s;
      for (int v = 0; v < NV; ++v) sum[r][v] += av * bv[v];
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) store(c + r * ldc + v * L, sum[r][v]);
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

template <class T, int MR>
void row_block(int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
               int64_t ldc, bool accumulate) {
  constexpr int L = Vec<T>::kLanes;
  int64_t j = 0;
  for (; j + 4 * L <= n; j += 4 * L) tile<T, MR, 4>(k, a, lda, b + j, ldb, c + j, ldc, accumulate);
  for (; j + L <= n; j += L) tile<T, MR, 1>(k, a, lda, b + j, ldb, c + j, ldc, accumulate);
  if (j < n) tail<T>(MR, n - j, k, a, lda, b + j, ldb, c + j, ldc, accumulate);
}

}  // namespace

template <class T>
void thin_gemm(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
               T* c, int64_t ldc, bool accumulate) {
  constexpr int kRows = 6;
  int64_t i = 0;
  for (; i + kRows <= m; i += kRows)
    row_block<T, kRows>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate);
  const T* ai = a + i * lda;
  T* ci = c + i * ldc;
  switch (m - i) {
    case 5:
      row_block<T, 5>(n, k, ai, lda, b, ldb, ci, ldc, accumulate);
      break;
    case 4:
      row_block<T, 4>(n, k, ai, lda, b, ldb, ci, ldc, accumulate);
      break;
    case 3:
      row_block<T, 3>(n, k, ai, lda, b, ldb, ci, ldc, accumulate);
      break;
    case 2:
      row_block<T, 2>(n, k, ai, lda, b, ldb, ci, ldc, accumulate);
      break;
    case 1:
      row_block<T, 1>(n, k, ai, lda, b, ldb, ci, ldc, accumulate);
      break;
    default:
      break;
  }
}

template void thin_gemm<float>(int64_t, int64_t, int64_t, const float*, int64_t, const float*,
                               int64_t, float*, int64_t, bool);
template void thin_gemm<double>(int64_t, int64_t, int64_t, const double*, int64_t, const double*,
                                int64_t, double*, int64_t, bool);

}  // namespace rwd::detail
