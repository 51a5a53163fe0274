# Sourced by scripts that run rewind: when OpenBLAS would pick its generic kernel on a CPU
# it does not recognise, choose the newest kernel the CPU's instruction set supports.
# An OPENBLAS_CORETYPE already set by the user is kept.
if [[ -z "${OPENBLAS_CORETYPE:-}" ]]; then
  flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
  if [[ "$flags" == *avx512f* && "$flags" == *avx512bw* && "$flags" == *avx512vl* ]]; then
    export OPENBLAS_CORETYPE=SkylakeX
  elif [[ "$flags" == *avx2* && "$flags" == *fma* ]]; then
    export OPENBLAS_CORETYPE=Haswell
  fi
fi
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<OpenBLAS default>}"
