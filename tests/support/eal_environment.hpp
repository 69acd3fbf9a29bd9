// Test processes start DPDK's EAL once, with no hugepages and no PCI, and share one packet pool.
#pragma once

#include <rte_mempool.h>

namespace sluice::test {

// The pool every test draws its frames from; created by the test main.
rte_mempool* packet_pool();

// Mbufs of packet_pool() currently handed out; a test that ends with more than it started with
// leaked frames.
unsigned mbufs_in_use();

}  // namespace sluice::test
