# llama.cpp, pinned in deps/llama.cpp.env and fetched into a cache outside the
# tree by scripts/fetch-llama.sh, built here as static libraries.
#
# Only what kiln links is built: the subdirectory is EXCLUDE_FROM_ALL, so
# targets are compiled only when something depends on them. llama.cpp's tests
# and examples are off. Its tools are configured but never built by `make` or
# `make test`: bench/ builds llama-bench and llama-server from this very build,
# with the same flags and objects as kiln, for the comparisons.

# KILN_LLAMA_DIR overrides the source tree; without it, fetch-llama.sh gives the
# pinned, patched one each configure (a quick check once it is there), and a
# change of the pins or patches configures again.
set(KILN_LLAMA_DIR "" CACHE PATH "llama.cpp source tree (empty: the pinned one, from scripts/fetch-llama.sh)")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/deps/llama.cpp.env)
file(GLOB _kiln_llama_patches CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/deps/patches/*.patch)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_kiln_llama_patches})
set(KILN_LLAMA_SRC "${KILN_LLAMA_DIR}")
if(NOT KILN_LLAMA_SRC)
  execute_process(
    COMMAND ${CMAKE_SOURCE_DIR}/scripts/fetch-llama.sh
    OUTPUT_VARIABLE _kiln_llama_out
    RESULT_VARIABLE _kiln_llama_rc)
  if(NOT _kiln_llama_rc EQUAL 0)
    message(FATAL_ERROR "scripts/fetch-llama.sh failed; see its output above")
  endif()
  string(STRIP "${_kiln_llama_out}" _kiln_llama_out)
  string(REGEX REPLACE ".*\n" "" _kiln_llama_out "${_kiln_llama_out}")
  set(KILN_LLAMA_SRC "${_kiln_llama_out}")
endif()
message(STATUS "kiln: llama.cpp from ${KILN_LLAMA_SRC}")

set(BUILD_SHARED_LIBS OFF CACHE BOOL "" FORCE)
# The CPU kernels: `native` (-march=native, this machine's widest SIMD) or
# `avx2` (any x86-64 with AVX2/FMA/F16C, no AVX-512): a second build of the
# other path, to run the tests on the SIMD code another CPU takes
# (`make test-avx2`).
set(KILN_GGML_CPU "native" CACHE STRING "ggml CPU kernels: native or avx2")
set_property(CACHE KILN_GGML_CPU PROPERTY STRINGS native avx2)
if(KILN_GGML_CPU STREQUAL "avx2")
  set(GGML_NATIVE OFF CACHE BOOL "" FORCE)
  foreach(_on GGML_SSE42 GGML_AVX GGML_AVX2 GGML_FMA GGML_F16C GGML_BMI2)
    set(${_on} ON CACHE BOOL "" FORCE)
  endforeach()
  foreach(_off GGML_AVX_VNNI GGML_AVX512 GGML_AVX512_VBMI GGML_AVX512_VNNI GGML_AVX512_BF16 GGML_AMX_TILE GGML_AMX_INT8 GGML_AMX_BF16)
    set(${_off} OFF CACHE BOOL "" FORCE)
  endforeach()
elseif(KILN_GGML_CPU STREQUAL "native")
  set(GGML_NATIVE ON CACHE BOOL "" FORCE)
else()
  message(FATAL_ERROR "KILN_GGML_CPU must be native or avx2, got '${KILN_GGML_CPU}'")
endif()
set(GGML_CPU ON CACHE BOOL "" FORCE)
set(GGML_BACKEND_DL OFF CACHE BOOL "" FORCE)
set(LLAMA_BUILD_COMMON ON CACHE BOOL "" FORCE)
set(LLAMA_BUILD_TESTS OFF CACHE BOOL "" FORCE)
set(LLAMA_BUILD_EXAMPLES OFF CACHE BOOL "" FORCE)
set(LLAMA_BUILD_TOOLS ON CACHE BOOL "" FORCE)
set(LLAMA_BUILD_SERVER ON CACHE BOOL "" FORCE)
set(LLAMA_USE_PREBUILT_UI OFF CACHE BOOL "" FORCE)  # no downloads: llama-server without its web UI
set(LLAMA_BUILD_APP OFF CACHE BOOL "" FORCE)
set(LLAMA_BUILD_UI OFF CACHE BOOL "" FORCE)
set(LLAMA_OPENSSL OFF CACHE BOOL "" FORCE)
set(LLAMA_TOOLS_INSTALL OFF CACHE BOOL "" FORCE)

# -march=native turns on ggml's AMX kernels when the CPU has AMX. Built by
# GCC 12 they die with SIGILL on the first batched matmul (see
# cmake/amx_check.c), so probe the same code pattern at the same -O level and
# build without AMX if it faults. Newer compilers keep AMX.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64" AND NOT CMAKE_CROSSCOMPILING AND KILN_GGML_CPU STREQUAL "native")
  try_run(KILN_AMX_RUN KILN_AMX_COMPILES ${CMAKE_BINARY_DIR}/amx-check
          SOURCES ${CMAKE_CURRENT_LIST_DIR}/amx_check.c
          COMPILE_DEFINITIONS -march=native -O3)
  if(KILN_AMX_COMPILES AND NOT KILN_AMX_RUN EQUAL 0)
    message(STATUS "kiln: ggml's AMX kernels fault when built by this compiler here; building llama.cpp without AMX")
    string(APPEND CMAKE_C_FLAGS " -mno-amx-tile -mno-amx-int8 -mno-amx-bf16")
    string(APPEND CMAKE_CXX_FLAGS " -mno-amx-tile -mno-amx-int8 -mno-amx-bf16")
  endif()
endif()

add_subdirectory(${KILN_LLAMA_SRC} ${CMAKE_BINARY_DIR}/llama.cpp EXCLUDE_FROM_ALL SYSTEM)
