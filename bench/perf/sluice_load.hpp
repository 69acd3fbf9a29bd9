// The Sluice side: one process per end, each a DPDK application with one worker (sluice::Worker:
// NetStack + TcpStack) on one lcore, the two joined by DPDK's net_memif (the server end creates the
// control socket, the client end connects to it). EAL runs with --no-huge, -m and a --file-prefix
// of its own, so two of them coexist on a machine without hugepages.
#pragma once

#include <atomic>

#include "bench/perf/perf_options.hpp"

namespace sluice::perf {

// The addresses the two ends use on the memif link (nothing else is on it).
inline constexpr const char* kSluiceServerAddress = "10.0.0.1";
inline constexpr const char* kSluiceClientAddress = "10.0.0.2";
inline constexpr std::uint16_t kSluiceServerPort = 5001;

// Prints "ready" once the port is up and listening, serves until `stop` or the lifetime, then
// prints a "server" line with its counters. Each change of `marks` (the orchestrator's SIGUSR1 when
// the client's window opens and closes) notes the loop's busy time, so that the line can say how
// busy the server was over the window itself ("window_busy"). Returns the exit status.
int run_sluice_server(const PerfOptions& options, const std::atomic<bool>& stop,
                      const std::atomic<unsigned>& marks);

// Waits for the memif link, runs the load, prints "progress" lines and one "result" line.
int run_sluice_client(const PerfOptions& options, const std::atomic<bool>& stop);

}  // namespace sluice::perf
