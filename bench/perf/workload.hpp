// What sluice-perf measures: the workloads, the stacks they run over, and the parameters one run
// of a workload needs. Shared by the orchestrator and by the server and client processes it starts.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::perf {

enum class Workload : std::uint8_t {
    Rr,       // C connections, P requests of S bytes outstanding on each, answered with S bytes
    Crr,      // connect, one request/response of S bytes, close; C such loops at once
    Stream,   // bulk data one way, server to client
    Latency,  // rr with C=1, P=1, each round trip timed
};

enum class Stack : std::uint8_t {
    Sluice,         // two processes joined by DPDK's net_memif
    LinuxLoopback,  // epoll over 127.0.0.1
    LinuxVeth,      // epoll over a veth pair between two namespaces the tool creates
};

inline constexpr Workload kAllWorkloads[] = {Workload::Rr, Workload::Crr, Workload::Stream,
                                             Workload::Latency};
inline constexpr Stack kAllStacks[] = {Stack::Sluice, Stack::LinuxLoopback, Stack::LinuxVeth};

inline std::string_view workload_name(Workload w) {
    switch (w) {
        case Workload::Rr:
            return "rr";
        case Workload::Crr:
            return "crr";
        case Workload::Stream:
            return "stream";
        case Workload::Latency:
            return "latency";
    }
    return "?";
}

inline std::string_view stack_name(Stack s) {
    switch (s) {
        case Stack::Sluice:
            return "sluice";
        case Stack::LinuxLoopback:
            return "linux-lo";
        case Stack::LinuxVeth:
            return "linux-veth";
    }
    return "?";
}

inline std::optional<Workload> parse_workload(std::string_view text) {
    for (Workload w : kAllWorkloads) {
        if (workload_name(w) == text)
            return w;
    }
    return std::nullopt;
}

inline std::optional<Stack> parse_stack(std::string_view text) {
    for (Stack s : kAllStacks) {
        if (stack_name(s) == text)
            return s;
    }
    return std::nullopt;
}

// Everything one server/client pair needs to know about the load, identical on both stacks.
struct LoadParams {
    Workload workload = Workload::Rr;
    std::uint32_t connections = 64;    // rr: connections; crr: connection loops at once; stream
    std::uint32_t size = 64;           // bytes of each request and of each response
    std::uint32_t pipeline = 1;        // rr: requests outstanding per connection
    std::uint32_t write_size = 65536;  // stream: bytes per send() on the server
    std::uint16_t mtu = 1500;          // of the link (Sluice's memif port, the veth pair)
    std::chrono::nanoseconds warmup = std::chrono::seconds(2);
    std::chrono::nanoseconds duration = std::chrono::seconds(5);

    // Latency is rr with one connection and one request outstanding.
    std::uint32_t effective_connections() const {
        return workload == Workload::Latency ? 1 : connections;
    }
    std::uint32_t effective_pipeline() const { return workload == Workload::Rr ? pipeline : 1; }
};

}  // namespace sluice::perf
