add_executable(bench_rope ${CMAKE_CURRENT_LIST_DIR}/bench_rope.cu)
target_link_libraries(bench_rope PRIVATE hearth_rope hearth_bench_ceiling)
