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
};

// Parses `args` (without the program name). Returns the options, or a message for the operator.
Result<EngineOptions, std::string> parse_options(const std::vector<std::string>& args);

// Usage text for `sluice -- --help`.
std::string usage();

}  // namespace sluice::control
