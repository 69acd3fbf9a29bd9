// The Linux baseline: the kernel's TCP driven the way a fast Linux server is usually written, one
// thread on one core with epoll (level-triggered), non-blocking sockets and TCP_NODELAY. The same
// workloads as the Sluice side (sluice_load.hpp), measured by the same LoadMeter.
#pragma once

#include <atomic>

#include "bench/perf/perf_options.hpp"

namespace sluice::perf {

// Listens on options.listen_address:listen_port, prints "ready port=N", serves the workload until
// `stop` or the lifetime runs out, then prints a "server" line. Returns the exit status.
int run_linux_server(const PerfOptions& options, const std::atomic<bool>& stop);

// Connects to options.connect_address:connect_port, runs the load through warm-up and the window,
// prints "progress" lines and one "result" line. Returns the exit status.
int run_linux_client(const PerfOptions& options, const std::atomic<bool>& stop);

// Pins the calling thread to `core`; false (and a message on stderr) when the kernel refuses.
bool pin_to_core(unsigned core);

}  // namespace sluice::perf
