// sluice-faultbridge's own command line (what follows EAL's arguments and "--"), checked before
// EAL starts; a bad flag is reported with the flag, the value and what is allowed.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>

#include <sluice/result.hpp>
#include "drivers/fault_profile.hpp"

namespace sluice::drivers {

struct BridgeOptions {
    FaultProfile a_to_b;
    FaultProfile b_to_a;
    // Which ports are A and B: a port id, a port name or a vdev string (drivers::PortConfig);
    // empty: the first and second ports EAL found.
    std::string port_a;
    std::string port_b;
    std::chrono::seconds duration{0};  // zero: until SIGINT or SIGTERM
    std::uint32_t mbufs = 32767;
    std::uint32_t capacity = 16384;  // frames each direction's link may hold at once
    bool help = false;
};

Result<BridgeOptions, std::string> parse_bridge_options(std::span<const std::string> args);
std::string bridge_usage();

}  // namespace sluice::drivers
