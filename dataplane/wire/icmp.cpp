#include "dataplane/wire/icmp.hpp"

#include <cassert>

#include "dataplane/wire/checksum.hpp"

namespace sluice::wire {

Result<IcmpHeader, DropReason> IcmpHeader::parse(std::span<const std::byte> message) {
    if (message.size() < kLength)
        return Unexpected{DropReason::IcmpTruncated};
    if (!checksum_is_valid(message))
        return Unexpected{DropReason::IcmpBadChecksum};
    const std::byte* p = message.data();
    IcmpHeader h;
    h.type = std::to_integer<std::uint8_t>(p[0]);
    h.code = std::to_integer<std::uint8_t>(p[1]);
    h.checksum = load_be16(p + 2);
    h.identifier = load_be16(p + 4).host();
    h.sequence = load_be16(p + 6).host();
    return h;
}

void IcmpHeader::emit(std::span<std::byte> message) const {
    assert(message.size() >= kLength);
    std::byte* p = message.data();
    p[0] = std::byte{type};
    p[1] = std::byte{code};
    store_be16(p + 2, be16{});
    store_be16(p + 4, be16::from_host(identifier));
    store_be16(p + 6, be16::from_host(sequence));
    store_be16(p + 2, internet_checksum(message));
}

void turn_echo_request_into_reply(std::span<std::byte> message) {
    assert(message.size() >= IcmpHeader::kLength);
    std::byte* p = message.data();
    // The type and code share the first 16-bit word of the checksummed data.
    const be16 old_word = load_be16(p);
    p[0] = std::byte{icmp_type::kEchoReply};
    const be16 new_word = load_be16(p);
    store_be16(p + 2, checksum_adjust(load_be16(p + 2), old_word, new_word));
}

}  // namespace sluice::wire
