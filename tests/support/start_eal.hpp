// Starts DPDK's EAL inside a test or benchmark process the way this machine allows it: no
// hugepages, no PCI, no telemetry socket, one lcore (the main thread, pinned, as a worker is),
// and a file prefix of its own so that processes running at once do not meet.
#pragma once

#include <string>

namespace sluice::test {

// `name` starts the file prefix (the pid follows); `memory_mb` is EAL's memory. False when
// rte_eal_init() fails (most often: not root).
bool start_eal(const char* program, const std::string& name, unsigned memory_mb);

}  // namespace sluice::test
