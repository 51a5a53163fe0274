# Runs a char_lm that resumes from a checkpoint saved at step SAVED and trains until step
# UNTIL; it must pass (exit status 0: the restored model starts where the saved one stopped),
# and its progress lines and loss CSV must number the steps on from the checkpoint's,
# SAVED + 1 to UNTIL, not from 1 again.
#   cmake -DCHAR_LM=<program> -DCHECKPOINT=<file> -DSAVED=<step> -DUNTIL=<step>
#         -DCSV=<csv to write> -P check_char_lm_resume.cmake
cmake_minimum_required(VERSION 3.20)
file(REMOVE "${CSV}")
execute_process(COMMAND "${CHAR_LM}" --quick --resume "${CHECKPOINT}" --steps "${UNTIL}" --save ""
                        --csv "${CSV}"
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
message("${out}")
if(NOT status STREQUAL "0")
  message(FATAL_ERROR "char_lm exited with status '${status}'")
endif()
if(NOT out MATCHES "resumed from '[^']*' at step ${SAVED}\n")
  message(FATAL_ERROR "char_lm did not say it resumed at step ${SAVED}")
endif()

# Progress lines: "char_lm step 210/300 loss ...".
string(REGEX MATCHALL "char_lm step [0-9]+/[0-9]+" lines "${out}")
if(NOT lines)
  message(FATAL_ERROR "no progress lines")
endif()
foreach(line IN LISTS lines)
  string(REGEX MATCH "step ([0-9]+)/([0-9]+)" _ "${line}")
  if(CMAKE_MATCH_1 LESS_EQUAL SAVED OR NOT CMAKE_MATCH_2 EQUAL UNTIL)
    message(FATAL_ERROR "progress line '${line}': steps must run from ${SAVED} + 1 to ${UNTIL}")
  endif()
endforeach()

# The CSV: run,step,loss,tokens_per_s,elapsed_s; one row per step, SAVED + 1 to UNTIL.
file(STRINGS "${CSV}" rows)
list(POP_FRONT rows header)
list(LENGTH rows count)
math(EXPR expected "${UNTIL} - ${SAVED}")
list(GET rows 0 first)
list(GET rows -1 last)
string(REGEX MATCH "^[^,]*,([0-9-]+)," _ "${first}")
set(first_step "${CMAKE_MATCH_1}")
string(REGEX MATCH "^[^,]*,([0-9-]+)," _ "${last}")
set(last_step "${CMAKE_MATCH_1}")
math(EXPR next "${SAVED} + 1")
if(NOT count EQUAL expected OR NOT first_step EQUAL next OR NOT last_step EQUAL UNTIL)
  message(FATAL_ERROR "${CSV}: ${count} rows for steps ${first_step} to ${last_step}; expected "
                      "${expected} rows for steps ${next} to ${UNTIL}")
endif()
message("progress lines and ${count} CSV rows number steps ${next} to ${UNTIL}")
