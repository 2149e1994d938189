# bench_attention: decode GB/s and prefill TFLOP/s of the paged attention against the ceilings.
add_executable(bench_attention ${CMAKE_CURRENT_LIST_DIR}/bench_attention.cu)
target_link_libraries(bench_attention PRIVATE hearth_attention hearth_bench_ceiling)
