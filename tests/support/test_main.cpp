// GoogleTest main for the unit tests: EAL first (--no-huge, a file prefix unique to this process so
// parallel runs do not collide), then the tests.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include "tests/support/eal_environment.hpp"

namespace sluice::test {

namespace {
rte_mempool* g_pool = nullptr;
}

rte_mempool* packet_pool() {
    return g_pool;
}

unsigned mbufs_in_use() {
    return rte_mempool_in_use_count(g_pool);
}

}  // namespace sluice::test

int main(int argc, char** argv) {
    testing::InitGoogleTest(&argc, argv);
    const std::string prefix = "sluice-unit-" + std::to_string(getpid());
    std::vector<std::string> args = {argv[0],
                                     "-l",
                                     "0",
                                     "--no-huge",
                                     "-m",
                                     "256",
                                     "--no-pci",
                                     "--no-telemetry",
                                     "--file-prefix",
                                     prefix,
                                     "--log-level",
                                     "*:error"};
    std::vector<char*> eal_argv;
    for (std::string& a : args)
        eal_argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
        std::fprintf(stderr, "cannot start EAL for the tests (run as root)\n");
        return 1;
    }
    sluice::test::g_pool =
        rte_pktmbuf_pool_create("test_mbufs", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (sluice::test::g_pool == nullptr) {
        std::fprintf(stderr, "cannot create the test mbuf pool\n");
        return 1;
    }
    const int rc = RUN_ALL_TESTS();
    rte_mempool_free(sluice::test::g_pool);
    rte_eal_cleanup();
    return rc;
}
