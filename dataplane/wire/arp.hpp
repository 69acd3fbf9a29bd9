// ARP for IPv4 over Ethernet (RFC 826). Only that combination of hardware and protocol types is
// accepted; anything else is reported as ArpUnsupportedFormat.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include <sluice/addresses.hpp>
#include <sluice/result.hpp>
#include "dataplane/stats/drop_reason.hpp"

namespace sluice::wire {

enum class ArpOperation : std::uint16_t { Request = 1, Reply = 2 };

struct ArpPacket {
    static constexpr std::size_t kLength = 28;

    ArpOperation operation = ArpOperation::Request;
    MacAddress sender_mac;
    Ipv4Address sender_ip;
    MacAddress target_mac;
    Ipv4Address target_ip;

    // RFC 5227 2.4: an announcement is a request whose sender and target addresses are both ours.
    bool is_gratuitous() const { return sender_ip == target_ip; }

    static Result<ArpPacket, DropReason> parse(std::span<const std::byte> bytes);
    void emit(std::span<std::byte> out) const;  // writes kLength bytes
};

}  // namespace sluice::wire
