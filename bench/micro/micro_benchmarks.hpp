// One registration function per concern, each defined in its own *_bench.cpp. main() calls them in
// this order, so that the output reads in the order of the data path, whatever the link order.
#pragma once

namespace sluice::bench {

void register_listener_lookup_benchmarks();  // listener_lookup_bench.cpp
void register_segment_path_benchmarks();     // segment_path_bench.cpp
void register_segment_build_benchmarks();    // segment_build_bench.cpp
void register_sack_recovery_benchmarks();    // sack_recovery_bench.cpp
void register_receive_queue_benchmarks();    // receive_queue_bench.cpp
void register_checksum_benchmarks();         // checksum_bench.cpp
void register_timer_wheel_benchmarks();      // timer_wheel_bench.cpp
void register_port_allocation_benchmarks();  // port_allocation_bench.cpp
void register_app_runtime_benchmarks();      // app_runtime_bench.cpp
// Also records in the benchmark context whether rte_thash_gfni could run ("toeplitz_gfni").
void register_toeplitz_benchmarks();  // toeplitz_bench.cpp

}  // namespace sluice::bench
