#include "dataplane/wire/ipv4.hpp"

#include <sluice/byte_order.hpp>
#include "dataplane/wire/checksum.hpp"

namespace sluice::wire {

Result<Ipv4Header, DropReason> Ipv4Header::parse(std::span<const std::byte> packet,
                                                 HeaderChecksum checksum) {
    // Built in place and every return is `result`, as in TcpHeader::parse: a header assembled
    // aside and copied out whole waited for its field-by-field stores (a store-forwarding stall).
    Result<Ipv4Header, DropReason> result{std::in_place};
    const auto refuse = [&result](DropReason why) { result = Unexpected{why}; };
    if (packet.size() < kMinLength) {
        refuse(DropReason::Ipv4Truncated);
        return result;
    }
    const std::byte* p = packet.data();
    const auto version_ihl = std::to_integer<std::uint8_t>(p[0]);
    if ((version_ihl >> 4) != 4) {
        refuse(DropReason::Ipv4BadVersion);
        return result;
    }

    Ipv4Header& h = result.value();
    h.header_length = static_cast<std::uint8_t>((version_ihl & 0x0f) * 4);
    if (h.header_length < kMinLength) {
        refuse(DropReason::Ipv4BadHeaderLength);
        return result;
    }
    if (h.header_length > packet.size()) {
        refuse(DropReason::Ipv4Truncated);
        return result;
    }

    h.total_length = load_be16(p + 2).host();
    // RFC 1122 3.2.1.1 (and 3.2.1.8 for the length): the datagram must fit the frame and hold its
    // own header; a frame longer than total_length carries link padding, which the caller trims.
    if (h.total_length < h.header_length || h.total_length > packet.size()) {
        refuse(DropReason::Ipv4BadTotalLength);
        return result;
    }
    if (checksum == HeaderChecksum::Verify && !checksum_is_valid(packet.first(h.header_length))) {
        refuse(DropReason::Ipv4BadChecksum);
        return result;
    }

    h.type_of_service = std::to_integer<std::uint8_t>(p[1]);
    h.identification = load_be16(p + 4).host();
    const std::uint16_t flags_offset = load_be16(p + 6).host();
    h.dont_fragment = (flags_offset & kFlagDontFragment) != 0;
    h.more_fragments = (flags_offset & kFlagMoreFragments) != 0;
    h.fragment_offset = flags_offset & kFragmentOffsetMask;
    h.ttl = std::to_integer<std::uint8_t>(p[8]);
    h.protocol = std::to_integer<std::uint8_t>(p[9]);
    h.source = Ipv4Address::from_wire(load_be32(p + 12));
    h.destination = Ipv4Address::from_wire(load_be32(p + 16));
    // RFC 791: a datagram whose time to live is zero must be destroyed.
    if (h.ttl == 0) {
        refuse(DropReason::Ipv4TtlExpired);
        return result;
    }
    return result;
}

}  // namespace sluice::wire
