// The micro-benchmark program: EAL first (no hugepages, no PCI, a file prefix of this process's
// own, so that it needs no NIC and never collides with a running engine or another benchmark),
// then Google Benchmark runs whatever the *_bench.cpp files registered. README.md says what each
// one measures.
#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/micro/micro_benchmarks.hpp"
#include "bench/micro/micro_environment.hpp"
#include "tests/support/start_eal.hpp"

namespace sluice::bench {

namespace {
rte_mempool* g_pool = nullptr;
}

rte_mempool* packet_pool() {
    return g_pool;
}

}  // namespace sluice::bench

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    if (!sluice::test::start_eal(argv[0], "sluice-micro", 512)) {
        std::fprintf(stderr, "micro_bench: cannot start EAL (run as root)\n");
        return 1;
    }
    // 8191 mbufs of the default size (about 19 MiB): a rig's rings, queues and bursts with room to
    // spare; a benchmark that leaks would run dry and say so instead of measuring a slow path.
    sluice::bench::g_pool = rte_pktmbuf_pool_create("micro_mbufs", 8191, 256, 0,
                                                    RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (sluice::bench::g_pool == nullptr) {
        std::fprintf(stderr, "micro_bench: cannot create the mbuf pool\n");
        return 1;
    }
    using namespace sluice::bench;
    register_listener_lookup_benchmarks();
    register_segment_path_benchmarks();
    register_segment_build_benchmarks();
    register_sack_recovery_benchmarks();
    register_receive_queue_benchmarks();
    register_checksum_benchmarks();
    register_timer_wheel_benchmarks();
    register_port_allocation_benchmarks();
    register_app_runtime_benchmarks();
    register_toeplitz_benchmarks();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    // Every benchmark returns what it took: a leak means some path measured did not free a frame.
    const unsigned leaked = rte_mempool_in_use_count(sluice::bench::g_pool);
    if (leaked != 0)
        std::fprintf(stderr, "micro_bench: %u mbufs were never freed\n", leaked);
    rte_mempool_free(sluice::bench::g_pool);
    // EAL leaves its runtime directory (several MiB of tmpfs under --no-huge) behind; the prefix is
    // this process's alone, so nobody else can be using it.
    const std::string runtime_dir = rte_eal_get_runtime_dir();
    rte_eal_cleanup();
    std::error_code ignored;
    std::filesystem::remove_all(runtime_dir, ignored);
    return leaked == 0 ? 0 : 1;
}
