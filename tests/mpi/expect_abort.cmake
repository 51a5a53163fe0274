# Runs COMMAND (a list) and passes when it ends within 30 s with a non-zero exit code and its
# output contains EXPECT: an error on one MPI rank must end all of them, loudly.
execute_process(COMMAND ${COMMAND} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT 30)
message("${out}${err}")
if(code STREQUAL "0")
  message(FATAL_ERROR "expect_abort: the run exited 0")
endif()
if(code MATCHES "timeout")
  message(FATAL_ERROR "expect_abort: the run hung (${code})")
endif()
string(FIND "${out}${err}" "${EXPECT}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "expect_abort: the output lacks '${EXPECT}'")
endif()
message("expect_abort: ok (exit ${code})")
