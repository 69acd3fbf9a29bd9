// GoogleTest main for the unit tests: EAL first (--no-huge, a file prefix unique to this process so
// parallel runs do not collide), then the tests.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include "tests/support/eal_environment.hpp"
#include "tests/support/start_eal.hpp"

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
    if (!sluice::test::start_eal(argv[0], "sluice-unit", 256)) {
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
