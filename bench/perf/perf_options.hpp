// sluice-perf's command line. One parser for the two ways the program runs:
//
//   - the orchestrator (no --role): runs every chosen workload over every chosen stack, prints the
//     table, writes JSON and a chart;
//   - one side of one run (--role server or --role client): what the orchestrator starts for each
//     run, pinned to its core; a person can start them by hand too (a Linux server on one machine,
//     its client on another).
//
// Every value is checked here; a refusal names the flag, the value and what is allowed.
#pragma once

#include <chrono>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <sluice/result.hpp>
#include "bench/perf/workload.hpp"
#include "dataplane/net/tcp_checksums.hpp"

namespace sluice::perf {

enum class Role : std::uint8_t { Orchestrator, Server, Client };

struct PerfOptions {
    Role role = Role::Orchestrator;

    // The load. `load.connections` is rr's C; crr and stream have their own below, and the
    // orchestrator hands each run the one that applies.
    LoadParams load;
    std::uint32_t crr_connections = 64;
    std::uint32_t stream_connections = 1;

    // Orchestrator: what to run, where to pin, where to write.
    std::vector<Workload> workloads{std::begin(kAllWorkloads), std::end(kAllWorkloads)};
    std::vector<Stack> stacks{std::begin(kAllStacks), std::end(kAllStacks)};
    std::vector<std::uint16_t> mtus{1500, 9000};
    unsigned server_core = 0;
    unsigned client_core = 1;
    unsigned eal_memory_mb = 512;
    // A run made with the two cores placed far apart (core_distance.hpp) is run again, at most
    // this many times.
    unsigned placement_retries = 2;
    // Sluice's send and receive buffer per connection; 0: the engine's default (TcpConfig).
    std::uint32_t sluice_buffer = 0;
    // What both Sluice ends do with TCP checksums over the memif link: by default what Linux does
    // over lo and veth, neither sum nor check them (dataplane/net/tcp_checksums.hpp).
    TcpChecksums sluice_checksums = TcpChecksums::Off;
    std::string json_path = "sluice-perf.json";
    std::optional<std::string> chart_path = std::string("sluice-perf.png");
    std::optional<std::string> log_dir;  // children's stderr is kept there when set

    // One side of a run (--role).
    Stack stack = Stack::LinuxLoopback;
    unsigned core = 0;
    std::string listen_address = "127.0.0.1";  // Linux server
    std::uint16_t listen_port = 0;             // Linux server; 0: any free port
    std::string connect_address;               // Linux client
    std::uint16_t connect_port = 0;            // Linux client
    std::string memif_socket;                  // Sluice, both sides
    std::string eal_prefix;                    // Sluice: EAL --file-prefix, one per process
    double lifetime_seconds = 0;               // server: stop by itself after this (0: warm-up +
                                               // duration + a minute)

    bool help = false;
};

// `args` excludes the program name.
Result<PerfOptions, std::string> parse_perf_options(const std::vector<std::string>& args);

std::string perf_usage();

// When a server stops by itself: its --lifetime, or the run's warm-up and duration plus a minute.
std::chrono::steady_clock::time_point server_deadline(const PerfOptions& o);

}  // namespace sluice::perf
