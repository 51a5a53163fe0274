# rewind_onednn_peer: oneDNN's training step of a recurrent layer (bench/onednn_peer.cpp), for
# bench_rnn's BM_OneDNNTrainStep rows and the test that holds it to rewind's layers. Defined
# only when Debian's libdnnl-dev and OpenMP are found. Found by hand, not find_package(dnnl):
# Debian's dnnlConfig.cmake fails on a machine without the OpenCL headers.
include_guard(GLOBAL)

option(REWIND_ONEDNN_PEER "Build the oneDNN peer (bench rows and test) when oneDNN is found" ON)
if(REWIND_ONEDNN_PEER)
  find_path(REWIND_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
  find_library(REWIND_DNNL_LIBRARY dnnl)
  find_package(OpenMP QUIET)  # oneDNN's threads: Debian builds it with GNU OpenMP
  if(REWIND_DNNL_INCLUDE_DIR AND REWIND_DNNL_LIBRARY AND OpenMP_CXX_FOUND)
    message(STATUS "oneDNN found (${REWIND_DNNL_LIBRARY}): adding the oneDNN peer")
    add_library(rewind_onednn_peer STATIC ${PROJECT_SOURCE_DIR}/bench/onednn_peer.cpp)
    target_include_directories(rewind_onednn_peer PUBLIC ${PROJECT_SOURCE_DIR}/bench)
    target_include_directories(rewind_onednn_peer SYSTEM PUBLIC ${REWIND_DNNL_INCLUDE_DIR})
    target_link_libraries(rewind_onednn_peer PUBLIC ${REWIND_DNNL_LIBRARY} OpenMP::OpenMP_CXX)
    rewind_target_options(rewind_onednn_peer)
  else()
    message(STATUS "oneDNN not found: no oneDNN peer (apt install libdnnl-dev)")
  endif()
endif()
