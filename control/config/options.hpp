// The engine's own command line (what follows EAL's arguments and "--"). Every value is checked
// here, before anything starts, and a bad one is reported with the flag, the value and what is
// allowed.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/util/result.hpp"
#include "dataplane/wire/addresses.hpp"

namespace sluice::control {

enum class ServiceKind : std::uint8_t { Echo, Discard, Source, Http };

struct ServiceOption {
    ServiceKind kind;
    std::uint16_t port;
};

struct EngineOptions {
    wire::Ipv4Interface address;
    std::optional<wire::Ipv4Address> gateway;
    std::string port;  // see drivers::PortConfig::device
    std::optional<std::uint16_t> vlan_id;
    std::optional<std::uint16_t> mtu;
    std::uint32_t mbufs = 8191;
    std::uint32_t neighbor_capacity = 1024;
    std::chrono::seconds neighbor_timeout{300};
    bool offloads = true;
    // Stop by itself after this long (for scripts); zero runs until SIGINT/SIGTERM.
    std::chrono::seconds duration{0};

    std::vector<ServiceOption> services;
    std::uint64_t http_body = 1024;
    std::uint64_t source_bytes = 1 << 20;
    // The engine's own client: connect here, send client_bytes, check what comes back, then stop.
    std::optional<wire::Ipv4Address> connect_ip;
    std::uint16_t connect_port = 0;
    std::uint64_t client_bytes = 1 << 20;

    std::uint32_t max_connections = 65536;
    std::chrono::seconds msl{30};
    bool nodelay = false;
    bool keepalive = false;
};

// Parses `args` (without the program name). Returns the options, or a message for the operator.
Result<EngineOptions, std::string> parse_options(const std::vector<std::string>& args);

// Usage text for `sluice -- --help`.
std::string usage();

}  // namespace sluice::control
