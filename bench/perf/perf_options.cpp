#include "bench/perf/perf_options.hpp"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <functional>
#include <string_view>

namespace sluice::perf {

namespace {

// What a setter returns: nothing when the value was taken, else what is allowed.
using Refusal = std::optional<std::string>;

template <typename Int>
std::optional<Int> parse_int(std::string_view text, Int min, Int max) {
    Int value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value < min || value > max)
        return std::nullopt;
    return value;
}

std::optional<double> parse_seconds(std::string_view text, double min, double max) {
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value) ||
        value < min || value > max) {
        return std::nullopt;
    }
    return value;
}

std::vector<std::string_view> split_commas(std::string_view text) {
    std::vector<std::string_view> parts;
    while (true) {
        const std::size_t comma = text.find(',');
        parts.push_back(text.substr(0, comma));
        if (comma == std::string_view::npos)
            return parts;
        text = text.substr(comma + 1);
    }
}

std::chrono::nanoseconds to_nanos(double seconds) {
    return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(seconds * 1e9)));
}

unsigned online_cores() {
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<unsigned>(n) : 1;
}

// Parses "a.b.c.d:port" (port 0 allowed when `any_port`).
bool split_endpoint(std::string_view text, std::string& address, std::uint16_t& port,
                    bool any_port) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
        return false;
    const auto p = parse_int<std::uint16_t>(text.substr(colon + 1), any_port ? 0 : 1, 65535);
    if (!p)
        return false;
    address = std::string(text.substr(0, colon));
    port = *p;
    return true;
}

struct Flag {
    std::string_view name;
    std::string_view value_name;  // empty: the flag takes no value
    std::function<Refusal(PerfOptions&, std::string_view)> apply;
};

const std::vector<Flag>& flags() {
    static const std::vector<Flag> table = {
        {"--workloads", "LIST",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             o.workloads.clear();
             for (std::string_view part : split_commas(v)) {
                 const auto w = parse_workload(part);
                 if (!w)
                     return "expected a comma-separated list of rr, crr, stream, latency";
                 for (Workload earlier : o.workloads) {
                     if (earlier == *w)
                         return "names " + std::string(part) + " twice";
                 }
                 o.workloads.push_back(*w);
             }
             return std::nullopt;
         }},
        {"--stacks", "LIST",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             o.stacks.clear();
             for (std::string_view part : split_commas(v)) {
                 const auto s = parse_stack(part);
                 if (!s)
                     return "expected a comma-separated list of sluice, linux-lo, linux-veth";
                 for (Stack earlier : o.stacks) {
                     if (earlier == *s)
                         return "names " + std::string(part) + " twice";
                 }
                 o.stacks.push_back(*s);
             }
             return std::nullopt;
         }},
        {"--duration", "SECONDS",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             const auto s = parse_seconds(v, 0.1, 3600);
             if (!s)
                 return "expected seconds from 0.1 to 3600 (the measured part of each run)";
             o.load.duration = to_nanos(*s);
             return std::nullopt;
         }},
        {"--warmup", "SECONDS",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             const auto s = parse_seconds(v, 0, 600);
             if (!s)
                 return "expected seconds from 0 to 600 (load before measuring starts)";
             o.load.warmup = to_nanos(*s);
             return std::nullopt;
         }},
        {"--connections", "N",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             const auto n = parse_int<std::uint32_t>(v, 1, 4096);
             if (!n)
                 return "expected a whole number from 1 to 4096 (rr's connections)";
             o.load.connections = *n;
             return std::nullopt;
         }},
        {"--crr-connections", "N",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             const auto n = parse_int<std::uint32_t>(v, 1, 4096);
             if (!n)
                 return "expected a whole number from 1 to 4096 (crr's connections at once)";
             o.crr_connections = *n;
             return std::nullopt;
         }},
        {"--stream-connections", "N",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             const auto n = parse_int<std::uint32_t>(v, 1, 64);
             if (!n)
                 return "expected a whole number from 1 to 64";
             o.stream_connections = *n;
             return std::nullopt;
         }},
        {"--size", "BYTES",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             const auto n = parse_int<std::uint32_t>(v, 1, 65536);
             if (!n)
                 return "expected bytes from 1 to 65536 (each request and each response)";
             o.load.size = *n;
             return std::nullopt;
         }},
        {"--pipeline", "N",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             const auto n = parse_int<std::uint32_t>(v, 1, 256);
             if (!n)
                 return "expected a whole number from 1 to 256 (rr's requests outstanding per "
                        "connection)";
             o.load.pipeline = *n;
             return std::nullopt;
         }},
        {"--write-size", "BYTES",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             const auto n = parse_int<std::uint32_t>(v, 1, 1 << 20);
             if (!n)
                 return "expected bytes from 1 to 1048576 (stream's bytes per send)";
             o.load.write_size = *n;
             return std::nullopt;
         }},
        {"--mtu", "LIST",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             o.mtus.clear();
             for (std::string_view part : split_commas(v)) {
                 const auto m = parse_int<std::uint16_t>(part, 576, 9000);
                 if (!m)
                     return "expected a comma-separated list of MTUs from 576 to 9000";
                 for (std::uint16_t earlier : o.mtus) {
                     if (earlier == *m)
                         return "names " + std::string(part) + " twice";
                 }
                 o.mtus.push_back(*m);
             }
             o.load.mtu = o.mtus.front();
             return std::nullopt;
         }},
        {"--server-core", "N",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             const auto n = parse_int<unsigned>(v, 0, online_cores() - 1);
             if (!n)
                 return "expected a core from 0 to " + std::to_string(online_cores() - 1);
             o.server_core = *n;
             return std::nullopt;
         }},
        {"--client-core", "N",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             const auto n = parse_int<unsigned>(v, 0, online_cores() - 1);
             if (!n)
                 return "expected a core from 0 to " + std::to_string(online_cores() - 1);
             o.client_core = *n;
             return std::nullopt;
         }},
        {"--memory", "MB",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             const auto n = parse_int<unsigned>(v, 128, 16384);
             if (!n)
                 return "expected megabytes from 128 to 16384 (EAL -m for each Sluice process)";
             o.eal_memory_mb = *n;
             return std::nullopt;
         }},
        {"--placement-retries", "N",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             const auto n = parse_int<unsigned>(v, 0, 10);
             if (!n)
                 return "expected a count from 0 to 10 (how many times a run made with the cores "
                        "far apart is run again)";
             o.placement_retries = *n;
             return std::nullopt;
         }},
        {"--sluice-buffer", "BYTES",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             const auto n = parse_int<std::uint32_t>(v, 4096, 64u << 20);
             if (!n)
                 return "expected bytes from 4096 to 67108864 (Sluice's send and receive buffer "
                        "per connection)";
             o.sluice_buffer = *n;
             return std::nullopt;
         }},
        {"--sluice-checksums", "MODE",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             const auto mode = parse_tcp_checksums(v);
             if (!mode)
                 return "expected full, trust-received or off (what both Sluice ends do with TCP "
                        "checksums)";
             o.sluice_checksums = *mode;
             return std::nullopt;
         }},
        {"--json", "PATH",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             if (v.empty())
                 return "expected a file name";
             o.json_path = std::string(v);
             return std::nullopt;
         }},
        {"--chart", "PATH",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             if (v.empty())
                 return "expected a file name ending in .png";
             if (v.size() < 4 || v.substr(v.size() - 4) != ".png")
                 return "expected a file name ending in .png";
             o.chart_path = std::string(v);
             return std::nullopt;
         }},
        {"--no-chart", "",
         [](PerfOptions& o, std::string_view) -> Refusal {
             o.chart_path.reset();
             return std::nullopt;
         }},
        {"--log-dir", "DIR",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             if (v.empty())
                 return "expected a directory";
             o.log_dir = std::string(v);
             return std::nullopt;
         }},
        // --- one side of a run ---
        {"--role", "ROLE",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             if (v == "server") {
                 o.role = Role::Server;
             } else if (v == "client") {
                 o.role = Role::Client;
             } else {
                 return "expected server or client";
             }
             return std::nullopt;
         }},
        {"--workload", "NAME",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             const auto w = parse_workload(v);
             if (!w)
                 return "expected rr, crr, stream or latency";
             o.load.workload = *w;
             return std::nullopt;
         }},
        {"--stack", "NAME",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             const auto s = parse_stack(v);
             if (!s)
                 return "expected sluice, linux-lo or linux-veth";
             o.stack = *s;
             return std::nullopt;
         }},
        {"--core", "N",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             const auto n = parse_int<unsigned>(v, 0, online_cores() - 1);
             if (!n)
                 return "expected a core from 0 to " + std::to_string(online_cores() - 1);
             o.core = *n;
             return std::nullopt;
         }},
        {"--listen", "ADDR:PORT",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             if (!split_endpoint(v, o.listen_address, o.listen_port, /*any_port=*/true))
                 return "expected an IPv4 address and a port (0: any free one), e.g. 127.0.0.1:0";
             return std::nullopt;
         }},
        {"--connect", "ADDR:PORT",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             if (!split_endpoint(v, o.connect_address, o.connect_port, /*any_port=*/false))
                 return "expected an IPv4 address and a port, e.g. 127.0.0.1:5001";
             return std::nullopt;
         }},
        {"--memif-socket", "PATH",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             if (v.empty() || v.front() != '/' || v.find(',') != std::string_view::npos)
                 return "expected an absolute path without commas";
             o.memif_socket = std::string(v);
             return std::nullopt;
         }},
        {"--eal-prefix", "NAME",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             if (v.empty() || v.find('/') != std::string_view::npos)
                 return "expected a name without slashes";
             o.eal_prefix = std::string(v);
             return std::nullopt;
         }},
        {"--lifetime", "SECONDS",
         [](PerfOptions& o, std::string_view v) -> Refusal {
             const auto s = parse_seconds(v, 1, 86400);
             if (!s)
                 return "expected seconds from 1 to 86400";
             o.lifetime_seconds = *s;
             return std::nullopt;
         }},
        {"--help", "",
         [](PerfOptions& o, std::string_view) -> Refusal {
             o.help = true;
             return std::nullopt;
         }},
    };
    return table;
}

std::string flag_names() {
    std::string names;
    for (const Flag& f : flags()) {
        if (!names.empty())
            names += ", ";
        names += f.name;
    }
    return names;
}

// Checks that need several flags at once.
Status<std::string> check_combination(const PerfOptions& o) {
    if (o.role == Role::Orchestrator) {
        if (o.server_core == o.client_core) {
            return Unexpected{"--server-core and --client-core are both " +
                              std::to_string(o.server_core) +
                              ": the server and the client each need a core of their own"};
        }
        return {};
    }
    const std::string role = o.role == Role::Server ? "--role server" : "--role client";
    if (o.stack == Stack::Sluice) {
        if (o.memif_socket.empty())
            return Unexpected{role + " --stack sluice needs --memif-socket PATH"};
        if (o.eal_prefix.empty())
            return Unexpected{role + " --stack sluice needs --eal-prefix NAME (one per process)"};
    } else if (o.role == Role::Client && o.connect_address.empty()) {
        return Unexpected{role + " --stack " + std::string(stack_name(o.stack)) +
                          " needs --connect ADDR:PORT (the server's 'ready' line gives the port)"};
    }
    return {};
}

}  // namespace

Result<PerfOptions, std::string> parse_perf_options(const std::vector<std::string>& args) {
    PerfOptions o;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (arg == "-h")
            arg = "--help";
        // --flag=value and --flag value are both accepted.
        std::optional<std::string_view> inline_value;
        if (const std::size_t eq = arg.find('='); arg.starts_with("--") && eq != arg.npos) {
            inline_value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
        }
        const Flag* flag = nullptr;
        for (const Flag& f : flags()) {
            if (f.name == arg)
                flag = &f;
        }
        if (flag == nullptr) {
            return Unexpected{"unknown flag '" + std::string(args[i]) + "'; the flags are " +
                              flag_names() + " (see --help)"};
        }
        std::string_view value;
        if (!flag->value_name.empty()) {
            if (inline_value) {
                value = *inline_value;
            } else if (i + 1 < args.size()) {
                value = args[++i];
            } else {
                return Unexpected{std::string(flag->name) + " needs a value (" +
                                  std::string(flag->value_name) + ")"};
            }
        } else if (inline_value) {
            return Unexpected{std::string(flag->name) + " takes no value"};
        }
        if (const Refusal r = flag->apply(o, value)) {
            return Unexpected{std::string(flag->name) + " '" + std::string(value) + "': " + *r};
        }
    }
    if (o.help)
        return o;
    if (auto st = check_combination(o); !st)
        return Unexpected{st.error()};
    return o;
}

std::string perf_usage() {
    return R"(sluice-perf: the same TCP load over Sluice and over the Linux kernel, side by side.

usage: sluice-perf [flags]          (as root: it creates network namespaces and runs DPDK)

Runs each workload over each stack, with the server pinned to one core and the client to another,
prints one table, and writes JSON and a PNG chart.

workloads:
  rr        C connections, P requests of S bytes outstanding on each, each answered with S bytes
            (transactions per second)
  crr       connect, one request/response of S bytes, the server closes, the client closes;
            C such loops at once (connections per second)
  stream    bulk data from the server to the client (Gbit/s), at each MTU of --mtu
  latency   rr with C=1 and P=1; each round trip timed (p50, p90, p99, p99.9, max in us)

stacks:
  sluice      Sluice on both ends: two processes joined by DPDK's net_memif, EAL --no-huge
  linux-lo    the kernel's TCP over 127.0.0.1 (epoll, non-blocking sockets, TCP_NODELAY)
  linux-veth  the same over a veth pair between two network namespaces made for the run

flags (defaults in brackets):
  --workloads LIST          rr,crr,stream,latency                      [all]
  --stacks LIST             sluice,linux-lo,linux-veth                 [all]
  --duration SECONDS        measured part of each run, 0.1-3600        [5]
  --warmup SECONDS          load before measuring, 0-600               [2]
  --connections N           rr's connections, 1-4096                   [64]
  --crr-connections N       crr's connections at once, 1-4096          [64]
  --stream-connections N    stream's connections, 1-64                 [1]
  --size BYTES              each request and each response, 1-65536    [64]
  --pipeline N              rr's requests outstanding per connection   [1]
  --write-size BYTES        stream's bytes per send, 1-1048576         [65536]
  --mtu LIST                link MTUs for stream (sluice, linux-veth); the first is used for
                            the other workloads, 576-9000              [1500,9000]
  --server-core N           core of every server                       [0]
  --client-core N           core of every client                       [1]
  --memory MB               EAL -m of each Sluice process, 128-16384   [512]
  --placement-retries N     run again a run made with the two cores far apart (a cache line's
                            round trip between them over twice the nearest seen), 0-10  [2]
  --sluice-buffer BYTES     Sluice's send and receive buffer per connection, 4096-67108864
                            [the engine's default, 262144; Linux autotunes its own]
  --sluice-checksums MODE   TCP checksums on both Sluice ends: full, trust-received, or off
                            (neither summed nor checked, as Linux does over lo and veth) [off]
  --json PATH               results as JSON                            [sluice-perf.json]
  --chart PATH              results as a PNG chart (gnuplot)           [sluice-perf.png]
  --no-chart                no chart
  --log-dir DIR             keep each server's and client's stderr there
  -h, --help                this text

one side of one run (what the tool starts for each run; usable by hand):
  --role server|client      with --stack NAME, --workload NAME, --core N and the load flags
  --listen ADDR:PORT        Linux server's address (port 0: any free one)  [127.0.0.1:0]
  --connect ADDR:PORT       Linux client's server (from the server's "ready port=N" line)
  --memif-socket PATH       Sluice: the memif control socket both sides use
  --eal-prefix NAME         Sluice: EAL --file-prefix, distinct for each process
  --lifetime SECONDS        server: stop by itself after this long
)";
}

std::chrono::steady_clock::time_point server_deadline(const PerfOptions& o) {
    const double seconds =
        o.lifetime_seconds > 0
            ? o.lifetime_seconds
            : std::chrono::duration<double>(o.load.warmup + o.load.duration).count() + 60;
    return std::chrono::steady_clock::now() +
           std::chrono::duration_cast<std::chrono::steady_clock::duration>(
               std::chrono::duration<double>(seconds));
}

}  // namespace sluice::perf
