// ICMP (RFC 792) as far as a host needs it for now: the common header, and echo request/reply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include <sluice/byte_order.hpp>
#include <sluice/result.hpp>
#include "dataplane/stats/drop_reason.hpp"

namespace sluice::wire {

namespace icmp_type {
inline constexpr std::uint8_t kEchoReply = 0;
inline constexpr std::uint8_t kDestinationUnreachable = 3;
inline constexpr std::uint8_t kEchoRequest = 8;
}  // namespace icmp_type

struct IcmpHeader {
    static constexpr std::size_t kLength = 8;

    std::uint8_t type = 0;
    std::uint8_t code = 0;
    be16 checksum;
    // For echo messages, identifier and sequence number; other types use these bytes otherwise.
    std::uint16_t identifier = 0;
    std::uint16_t sequence = 0;

    bool is_echo_request() const { return type == icmp_type::kEchoRequest && code == 0; }

    // `message` is the whole ICMP message (header and data); its checksum covers all of it.
    static Result<IcmpHeader, DropReason> parse(std::span<const std::byte> message);
    // Writes the header into the first kLength bytes of `message` and the checksum over all of it.
    void emit(std::span<std::byte> message) const;
};

// Turns the echo request in `message` into its reply in place (RFC 792: type 8 becomes 0, data and
// identifiers are returned unchanged), adjusting the checksum incrementally (RFC 1624).
void turn_echo_request_into_reply(std::span<std::byte> message);

}  // namespace sluice::wire
