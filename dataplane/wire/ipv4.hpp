// The IPv4 header (RFC 791) as a validated representation. parse() checks everything a host must
// check before believing the header (RFC 1122 3.2.1); what to do with a valid header that is not
// for us, or is a fragment, is the caller's policy.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>

#include <sluice/addresses.hpp>
#include <sluice/byte_order.hpp>
#include <sluice/result.hpp>
#include "dataplane/stats/drop_reason.hpp"

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
    // Writes a 20-byte header (options are never emitted) and, unless the device will, its
    // checksum.
    void emit(std::span<std::byte> out, HeaderChecksum checksum = HeaderChecksum::Verify) const;
};

// The flags and fragment offset word (RFC 791 3.1).
inline constexpr std::uint16_t kFlagDontFragment = 0x4000;
inline constexpr std::uint16_t kFlagMoreFragments = 0x2000;
inline constexpr std::uint16_t kFragmentOffsetMask = 0x1fff;

inline void Ipv4Header::emit(std::span<std::byte> out, HeaderChecksum checksum) const {
    assert(out.size() >= kMinLength);
    std::byte* p = out.data();
    p[0] = std::byte{0x45};
    p[1] = std::byte{type_of_service};
    store_be16(p + 2, be16::from_host(total_length));
    store_be16(p + 4, be16::from_host(identification));
    std::uint16_t flags_offset = fragment_offset & kFragmentOffsetMask;
    if (dont_fragment)
        flags_offset |= kFlagDontFragment;
    if (more_fragments)
        flags_offset |= kFlagMoreFragments;
    store_be16(p + 6, be16::from_host(flags_offset));
    p[8] = std::byte{ttl};
    p[9] = std::byte{protocol};
    store_be32(p + 12, source.wire());
    store_be32(p + 16, destination.wire());
    if (checksum == HeaderChecksum::Verify) {
        // Summed from the fields rather than from the bytes just stored: reading those back whole
        // waits for the narrow stores to drain (a store-forwarding stall on every packet sent, 8%
        // of a bulk sender's time). The sum of big-endian 16-bit words, in host order (RFC 1071).
        // Inline, so that a caller's header built on the spot never goes through memory at all:
        // reading its fields back (GCC merges ttl and protocol into one 16-bit load) would stall
        // the same way.
        std::uint32_t sum = (std::uint32_t{0x45} << 8 | type_of_service) + total_length +
                            identification + flags_offset + (std::uint32_t{ttl} << 8 | protocol) +
                            (source.host() >> 16) + (source.host() & 0xffff) +
                            (destination.host() >> 16) + (destination.host() & 0xffff);
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        store_be16(p + 10, be16::from_host(static_cast<std::uint16_t>(~sum)));
    } else {
        store_be16(p + 10, be16{});
    }
}

}  // namespace sluice::wire
