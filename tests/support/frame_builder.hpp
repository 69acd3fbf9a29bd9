// Builds test frames from the wire layer's own emitters (which tests/unit/wire_* pin down against
// scapy-generated golden bytes), with the fields a test cares about given and the rest defaulted.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <sluice/addresses.hpp>
#include "dataplane/wire/arp.hpp"
#include "dataplane/wire/ethernet.hpp"
#include "dataplane/wire/ipv4.hpp"
#include "dataplane/wire/tcp.hpp"

namespace sluice::test {

struct EchoSpec {
    wire::MacAddress eth_source;
    wire::MacAddress eth_destination;
    std::optional<std::uint16_t> vlan_tci;
    wire::Ipv4Address ip_source;
    wire::Ipv4Address ip_destination;
    std::uint16_t identifier = 0x1234;
    std::uint16_t sequence = 1;
    std::vector<std::byte> payload = std::vector<std::byte>(32, std::byte{0xab});
    std::uint8_t ttl = 64;
    std::uint8_t type_of_service = 0;
    std::size_t ip_option_bytes = 0;  // NOP options, a multiple of 4
    bool more_fragments = false;
};

std::vector<std::byte> echo_request_frame(const EchoSpec& spec);

std::vector<std::byte> arp_frame(const wire::EthernetHeader& eth, const wire::ArpPacket& arp);

// An IPv4 frame carrying the TCP segment `th` + `payload` from `source` to `destination`, with
// both checksums filled in. Used by the unit tests' peer and by bench/micro's frame templates.
std::vector<std::byte> tcp_frame(const wire::EthernetHeader& eth, wire::Ipv4Address source,
                                 wire::Ipv4Address destination, const wire::TcpHeader& th,
                                 std::span<const std::byte> payload);

}  // namespace sluice::test
