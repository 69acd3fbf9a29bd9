// The IPv4 header (RFC 791) as a validated representation. parse() checks everything a host must
// check before believing the header (RFC 1122 3.2.1); what to do with a valid header that is not for
// us, or is a fragment, is the caller's policy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "dataplane/stats/drop_reason.hpp"
#include "dataplane/util/result.hpp"
#include "dataplane/wire/addresses.hpp"

namespace sluice::wire {

namespace ip_protocol {
inline constexpr std::uint8_t kIcmp = 1;
inline constexpr std::uint8_t kTcp = 6;
inline constexpr std::uint8_t kUdp = 17;
}  // namespace ip_protocol

// Whether parse() sums the header itself, or trusts a NIC that already verified it.
enum class HeaderChecksum : std::uint8_t { Verify, VerifiedByDevice };

struct Ipv4Header {
    static constexpr std::size_t kMinLength = 20;
    static constexpr std::uint8_t kDefaultTtl = 64;

    std::uint8_t header_length = kMinLength;  // bytes, options included
    std::uint8_t type_of_service = 0;         // DSCP and ECN
    std::uint16_t total_length = 0;           // bytes, header included
    std::uint16_t identification = 0;
    bool dont_fragment = false;
    bool more_fragments = false;
    std::uint16_t fragment_offset = 0;  // in units of 8 bytes
    std::uint8_t ttl = kDefaultTtl;
    std::uint8_t protocol = 0;
    Ipv4Address source;
    Ipv4Address destination;

    bool is_fragment() const { return more_fragments || fragment_offset != 0; }
    std::size_t payload_length() const { return total_length - header_length; }

    // `packet` is everything after the link header, possibly with link padding beyond total_length.
    static Result<Ipv4Header, DropReason> parse(std::span<const std::byte> packet,
                                                HeaderChecksum checksum = HeaderChecksum::Verify);
    // Writes a 20-byte header (options are never emitted) and, unless the device will, its checksum.
    void emit(std::span<std::byte> out, HeaderChecksum checksum = HeaderChecksum::Verify) const;
};

}  // namespace sluice::wire
