// The examples' recurrent products are small ([32, 256] x [256, 1024] at most), and OpenBLAS's
// threads cost more than they save on them: on two cores a step takes about twice as long
// with them (spinning threads show up as system time). OPENBLAS_NUM_THREADS=1 in the
// environment does the same; this does it from the program, when the BLAS is OpenBLAS.
#pragma once

extern "C" void openblas_set_num_threads(int threads) __attribute__((weak));

namespace examples {

inline void use_one_blas_thread() {
  if (openblas_set_num_threads != nullptr) openblas_set_num_threads(1);
}

}  // namespace examples
