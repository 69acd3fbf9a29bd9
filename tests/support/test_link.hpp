// The link the TCP test fixture (tcp_fixture.hpp) and bench/micro's rig (tcp_rig.hpp) simulate:
// the engine at 10.0.0.2 with a listener on port 80, a peer at 10.0.0.1 connecting from 40000.
#pragma once

#include <array>
#include <cstdint>

#include <sluice/addresses.hpp>

namespace sluice::test {

inline constexpr wire::MacAddress kEngineMac{std::array<std::uint8_t, 6>{0x02, 0, 0, 0, 0, 0x02}};
inline constexpr wire::MacAddress kPeerMac{std::array<std::uint8_t, 6>{0x02, 0, 0, 0, 0, 0x01}};
inline constexpr wire::Ipv4Address kEngineIp = wire::Ipv4Address::from_octets(10, 0, 0, 2);
inline constexpr wire::Ipv4Address kPeerIp = wire::Ipv4Address::from_octets(10, 0, 0, 1);
inline constexpr std::uint16_t kServerPort = 80;  // where the listener sits
inline constexpr std::uint16_t kPeerPort = 40000;

}  // namespace sluice::test
