add_executable(bench_norm ${CMAKE_CURRENT_LIST_DIR}/bench_norm.cu)
target_link_libraries(bench_norm PRIVATE hearth_norm hearth_bench_ceiling)
