# hearth_add_test(NAME name SOURCES a.cc b.cu LIBS lib... LABELS cpu|gpu [ASAN] [TSAN]
#                 [TSAN_FILTER gtest-filter])
#   Adds a GoogleTest executable and registers it with ctest under its label.
#   Tests labelled gpu are only built with HEARTH_CUDA=ON; they skip (GTEST_SKIP) without a device.
#   ASAN marks a test as part of the sanitizer suite (the target hearth_asan_tests builds them).
#   TSAN marks it as part of the ThreadSanitizer suite (hearth_tsan_tests, label tsan): the CUDA
#   block emulation tests, where a data race between emulated threads is a missing barrier of the
#   kernel (a racecheck without a GPU), and the engine's own threads. TSAN_FILTER: the tests it
#   runs there (GTEST_FILTER; ThreadSanitizer slows the block emulation ~9x).
function(hearth_add_test)
  cmake_parse_arguments(T "ASAN;TSAN" "NAME;TSAN_FILTER" "SOURCES;LIBS;LABELS" ${ARGN})
  if("gpu" IN_LIST T_LABELS AND NOT HEARTH_CUDA)
    return()
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} hearth_test_support GTest::gtest GTest::gtest_main)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT 900
                       ENVIRONMENT "HEARTH_TEST_DATA=${PROJECT_SOURCE_DIR}/tests/data")
  foreach(suite asan tsan)  # the flags ASAN and TSAN: target hearth_<suite>_tests, label <suite>
    string(TOUPPER ${suite} flag)
    if(T_${flag})
      if(NOT TARGET hearth_${suite}_tests)
        add_custom_target(hearth_${suite}_tests)
      endif()
      add_dependencies(hearth_${suite}_tests ${T_NAME})
      set_property(TEST ${T_NAME} APPEND PROPERTY LABELS ${suite})
    endif()
  endforeach()
  if(HEARTH_TSAN AND T_TSAN AND T_TSAN_FILTER)
    set_property(TEST ${T_NAME} APPEND PROPERTY ENVIRONMENT "GTEST_FILTER=${T_TSAN_FILTER}")
  endif()
endfunction()

# hearth_add_fuzzer(NAME name SOURCES a.cc LIBS lib...)
#   A libFuzzer target (HEARTH_FUZZ=ON with clang only). Each runs for a bounded time in CI
#   (scripts/fuzz.sh) with its seed corpus in tests/fuzz/<name>/.
function(hearth_add_fuzzer)
  cmake_parse_arguments(F "" "NAME" "SOURCES;LIBS" ${ARGN})
  if(NOT HEARTH_FUZZ)
    return()
  endif()
  add_executable(${F_NAME} ${F_SOURCES})
  target_compile_options(${F_NAME} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(${F_NAME} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(${F_NAME} PRIVATE ${F_LIBS})
  if(NOT TARGET hearth_fuzzers)
    add_custom_target(hearth_fuzzers)
  endif()
  add_dependencies(hearth_fuzzers ${F_NAME})
endfunction()
