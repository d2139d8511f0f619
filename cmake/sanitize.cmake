# Sanitizer builds (make test-asan, make test-tsan; see docs/testing.md).
#
# KILN_SANITIZE=address: ASan + UBSan on kiln's own code. llama.cpp stays as
#   in the normal build (its objects come back from ccache); ASan's allocator
#   still sees every allocation, llama.cpp's included.
# KILN_SANITIZE=thread: TSan on everything, llama.cpp too, and ggml without
#   OpenMP: synchronisation TSan cannot see (uninstrumented code, libgomp)
#   would otherwise show up as races that are not there.
set(KILN_SANITIZE "" CACHE STRING "sanitizers: address (ASan+UBSan on kiln's code), thread (TSan on all), or empty")
set_property(CACHE KILN_SANITIZE PROPERTY STRINGS "" address thread)

set(KILN_SANITIZE_FLAGS "")
if(KILN_SANITIZE STREQUAL "address")
  set(KILN_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
elseif(KILN_SANITIZE STREQUAL "thread")
  set(KILN_SANITIZE_FLAGS -fsanitize=thread)
  string(APPEND CMAKE_C_FLAGS " -fsanitize=thread")
  string(APPEND CMAKE_CXX_FLAGS " -fsanitize=thread")
  set(GGML_OPENMP OFF CACHE BOOL "" FORCE)
elseif(NOT KILN_SANITIZE STREQUAL "")
  message(FATAL_ERROR "KILN_SANITIZE must be address, thread or empty, got '${KILN_SANITIZE}'")
endif()

# KILN_FUZZ: libFuzzer targets (tests/fuzz), clang only; kiln's code gets
# libFuzzer's coverage instrumentation.
option(KILN_FUZZ "Build the libFuzzer targets (clang)" OFF)
if(KILN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "KILN_FUZZ needs clang (make fuzz uses clang-14)")
  endif()
  list(APPEND KILN_SANITIZE_FLAGS -fsanitize=fuzzer-no-link)
endif()

# Called for each of kiln's own targets (by kiln_target_warnings).
function(kiln_target_sanitizers target)
  if(NOT KILN_SANITIZE_FLAGS)
    return()
  endif()
  # -O1 -g: readable reports at a bearable speed (the later -O1 wins over -O3).
  target_compile_options(${target} PRIVATE ${KILN_SANITIZE_FLAGS} -O1 -g)
  target_link_options(${target} PUBLIC ${KILN_SANITIZE_FLAGS})
  # The warnings gate is the normal build's: instrumented code gets false
  # positives (GCC's -Wmaybe-uninitialized in std::function under ASan) and
  # clang warns where GCC does not.
  target_compile_options(${target} PRIVATE -Wno-error)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    target_compile_options(${target} PRIVATE -Wno-unknown-warning-option)
  endif()
endfunction()
