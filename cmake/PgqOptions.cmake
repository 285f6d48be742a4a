# Per-target helpers: warnings and sanitizers are opt-in per target so that
# third-party code pulled into the build is never compiled with them.

function(pgq_enable_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                         -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
                         -Wunused -Woverloaded-virtual -Wimplicit-fallthrough
                         # designated initializers over members with defaults are fine
                         -Wno-missing-field-initializers)
  if(PGQ_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(PGQ_SANITIZE)
  if("thread" IN_LIST PGQ_SANITIZE AND "address" IN_LIST PGQ_SANITIZE)
    message(FATAL_ERROR "PGQ_SANITIZE: 'thread' cannot be combined with 'address'")
  endif()
  list(JOIN PGQ_SANITIZE "," _pgq_sanitizers)
  set(PGQ_SANITIZE_FLAGS -fsanitize=${_pgq_sanitizers} -fno-sanitize-recover=all
                         -fno-omit-frame-pointer)
endif()

function(pgq_enable_sanitizers target)
  if(PGQ_SANITIZE_FLAGS)
    target_compile_options(${target} PRIVATE ${PGQ_SANITIZE_FLAGS})
    target_link_options(${target} PRIVATE ${PGQ_SANITIZE_FLAGS})
  endif()
endfunction()

function(pgq_target target)
  pgq_enable_warnings(${target})
  pgq_enable_sanitizers(${target})
endfunction()
