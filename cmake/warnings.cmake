# Warning flags for kiln's own targets (llama.cpp keeps its own).
function(kiln_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-qual -Wformat=2
                                           # GCC 12 false positive on std::string concatenation at -O3
                                           # (gcc bug 105329); nothing of ours to fix.
                                           -Wno-restrict)
  if(KILN_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  kiln_target_sanitizers(${target})
endfunction()
