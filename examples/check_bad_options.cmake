# Runs the examples with bad option values: each run must exit with status 2, with a message
# naming the option and the value given, and must write nothing (it runs in an empty
# directory that must stay empty; a path in a missing directory must not create it).
#   cmake -DEXAMPLES=<directory of the example programs> -DWORK=<scratch directory>
#         -P check_bad_options.cmake
cmake_minimum_required(VERSION 3.20)
set(failures 0)
set(runs 0)

# Runs `program` with `--name=value` (and the further arguments after it: settings that keep
# the run short should the value be accepted) and checks the outcome above.
macro(expect_rejected program option_arg)
  math(EXPR runs "${runs} + 1")
  string(REGEX MATCH "^(--[^=]+)=(.*)$" _ "${option_arg}")
  set(_option "${CMAKE_MATCH_1}")
  set(_value "${CMAKE_MATCH_2}")
  set(_dir "${WORK}/${runs}")
  file(REMOVE_RECURSE "${_dir}")
  file(MAKE_DIRECTORY "${_dir}")
  execute_process(COMMAND "${EXAMPLES}/${program}" "${option_arg}" ${ARGN}
                  WORKING_DIRECTORY "${_dir}" RESULT_VARIABLE _status OUTPUT_VARIABLE _out
                  ERROR_VARIABLE _out TIMEOUT 120)
  file(GLOB _written RELATIVE "${_dir}" "${_dir}/*")
  set(_problems "")
  if(NOT _status STREQUAL "2")
    string(APPEND _problems " exit status '${_status}', not 2;")
  endif()
  string(FIND "${_out}" "${_option}" _at_option)
  string(FIND "${_out}" "'${_value}'" _at_value)
  if(_at_option EQUAL -1 OR _at_value EQUAL -1)
    string(APPEND _problems " the message does not name ${_option} and '${_value}';")
  endif()
  if(_written)
    string(APPEND _problems " it wrote ${_written};")
  endif()
  if(_problems)
    math(EXPR failures "${failures} + 1")
    message("FAIL: ${program} ${option_arg} ${ARGN}:${_problems}\n  output: ${_out}")
  endif()
endmacro()

set(missing "no-such-directory")
foreach(bad --hidden=0 --lr=-1 --batch=0 --lengths=0 --lengths=5,0 --eval-every=0 --steps=-5
            --eval-size=0 --symbols=1 --seed=-1 --lr=nan --hidden=lots --csv=${missing}/l.csv)
  expect_rejected(long_memory ${bad} --quick)
endforeach()
foreach(bad --bptt=0 --batch=0 --hidden=0 --embed=0 --layers=0 --steps=-5 --lr=0
            --temperature=-1 --save-every=-1 --save=${missing}/x.safetensors
            --csv=${missing}/c.csv --resume=${missing}/x.safetensors --text=${missing}/t.txt)
  expect_rejected(char_lm ${bad} --quick)
endforeach()
foreach(bad --length=0 --length=1 --steps=-5 --hidden=0 --batch=0 --lr=-1 --csv=${missing}/c.csv)
  expect_rejected(custom_cell ${bad} --quick)
endforeach()
foreach(bad --batch=0 --eval-size=0 --steps=-5 --hidden=0 --embed=0 --max-length=3 --lr=0
            --csv=${missing}/c.csv)
  expect_rejected(tagger ${bad} --quick)
endforeach()
foreach(bad --out=${missing}/g --out= --steps=0 --collapse=-2)
  expect_rejected(inspect_graph ${bad})
endforeach()
foreach(bad --out=${missing}/g --steps=3 --hidden=0 --gate-bias=inf)
  expect_rejected(gradient_flow ${bad} --iters=1)
endforeach()
expect_rejected(gradient_flow --iters=-1)
foreach(bad --steps=-5 --lr=0 --seed=-1)
  expect_rejected(custom_op ${bad})
endforeach()
foreach(bad --steps=-5 --hidden=0 --points=0 --lr=-0.5)
  expect_rejected(train_spirals ${bad})
endforeach()
if(EXISTS "${EXAMPLES}/distributed_lstm")  # built with MPI only
  foreach(bad --steps=0 --steps=many)
    expect_rejected(distributed_lstm ${bad})
  endforeach()
endif()
# An option given twice: which one was meant?
expect_rejected(tagger --steps=5 --steps=6)

# --help works everywhere, also beside a bad value.
foreach(program long_memory char_lm tagger custom_cell inspect_graph gradient_flow custom_op
                train_spirals)
  execute_process(COMMAND "${EXAMPLES}/${program}" --help --steps=-5 RESULT_VARIABLE status
                  OUTPUT_VARIABLE out ERROR_VARIABLE out TIMEOUT 60)
  if(NOT status STREQUAL "0" OR NOT out MATCHES "usage: .*--steps")
    math(EXPR failures "${failures} + 1")
    message("FAIL: ${program} --help: exit status '${status}'\n  output: ${out}")
  endif()
endforeach()

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} of the runs above went wrong")
endif()
message("${runs} bad values rejected, each with exit status 2 and nothing written")
