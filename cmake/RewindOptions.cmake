# Warnings, -Werror and sanitizers for rewind's own targets only (never global flags).
function(rewind_target_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                                           -Wnon-virtual-dtor -Wcast-align)
  if(REWIND_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(REWIND_NATIVE)  # local builds only: the binaries need this machine's CPU
    target_compile_options(${target} PRIVATE -march=native)
  endif()
  if(REWIND_TSAN)
    target_compile_options(${target} PUBLIC -fsanitize=thread -fno-omit-frame-pointer)
    target_link_options(${target} PUBLIC -fsanitize=thread)
    target_compile_options(${target} PRIVATE -Wno-tsan)  # GCC 12: atomic_thread_fence
  endif()
  if(REWIND_SANITIZE)
    target_compile_options(${target} PUBLIC -fsanitize=address,undefined -fno-omit-frame-pointer
                                            -fno-sanitize-recover=undefined)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
    # GCC 12's flow analysis under ASan reports maybe-uninitialized inside libstdc++'s
    # <regex> and <functional> (GCC bug 105562); the normal build keeps the warning.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
  endif()
endfunction()
