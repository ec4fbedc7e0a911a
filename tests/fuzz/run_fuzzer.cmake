# Runs one libFuzzer target for a bounded time on a fresh copy of its seed
# corpus (so fuzzing never writes into the source tree), and fails on any
# finding: a crash, a sanitizer report, an escaped exception, a timeout or
# running out of memory all make the fuzzer exit non-zero.
#
#   cmake -DFUZZER=<binary> -DCORPUS=<committed corpus dir> -DWORK=<scratch dir>
#         -DSECONDS=<total time> -P run_fuzzer.cmake
foreach(var FUZZER CORPUS WORK SECONDS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzzer.cmake: -D${var}=... is required")
  endif()
endforeach()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/artifacts)
file(COPY ${CORPUS}/ DESTINATION ${WORK}/corpus)

execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix=${WORK}/artifacts/ ${WORK}/corpus
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${FUZZER} found a problem (exit status ${result}); the input that triggers it is in "
                      "${WORK}/artifacts/")
endif()
