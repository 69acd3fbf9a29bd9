#include "tests/support/sack_stripper.hpp"

#include <sluice/byte_order.hpp>
#include "dataplane/wire/checksum.hpp"
#include "dataplane/wire/ethernet.hpp"
#include "dataplane/wire/ipv4.hpp"
#include "dataplane/wire/tcp.hpp"

namespace sluice::test {

namespace {

constexpr std::uint8_t kOptionEnd = 0;
constexpr std::uint8_t kOptionNop = 1;
constexpr std::uint8_t kOptionSackPermitted = 4;
constexpr std::size_t kTcpFlagsOffset = 13;

// Rewrites the byte at `offset` of `segment` (the checksum covers the segment in 16-bit words
// from its start) and adjusts the checksum for it.
void rewrite_byte(std::byte* segment, std::size_t offset, std::byte value) {
    std::byte* word = segment + (offset & ~std::size_t{1});
    const wire::be16 before = wire::load_be16(word);
    segment[offset] = value;
    std::byte* checksum = segment + wire::kTcpChecksumOffset;
    wire::store_be16(
        checksum, wire::checksum_adjust(wire::load_be16(checksum), before, wire::load_be16(word)));
}

}  // namespace

bool strip_sack_permitted(rte_mbuf* frame) {
    if (frame->nb_segs != 1)
        return false;
    auto* p = rte_pktmbuf_mtod(frame, std::byte*);
    const std::size_t length = frame->data_len;
    constexpr std::size_t kEth = wire::EthernetHeader::kUntaggedLength;
    if (length < kEth + wire::Ipv4Header::kMinLength + wire::TcpHeader::kMinLength ||
        wire::load_be16(p + 12).host() != wire::ethertype::kIpv4)
        return false;
    std::byte* ip = p + kEth;
    const std::size_t ip_header = (std::to_integer<std::size_t>(ip[0]) & 0x0f) * 4;
    if (std::to_integer<std::uint8_t>(ip[9]) != wire::ip_protocol::kTcp ||
        kEth + ip_header + wire::TcpHeader::kMinLength > length)
        return false;
    std::byte* tcp = ip + ip_header;
    if ((std::to_integer<std::uint8_t>(tcp[kTcpFlagsOffset]) & wire::tcp_flag::kSyn) == 0)
        return false;
    const std::size_t tcp_header = (std::to_integer<std::size_t>(tcp[12]) >> 4) * 4;
    if (kEth + ip_header + tcp_header > length)
        return false;
    bool stripped = false;
    for (std::size_t at = wire::TcpHeader::kMinLength; at < tcp_header;) {
        const auto kind = std::to_integer<std::uint8_t>(tcp[at]);
        if (kind == kOptionEnd)
            break;
        if (kind == kOptionNop) {
            ++at;
            continue;
        }
        if (at + 1 >= tcp_header)
            break;
        const auto option_length = std::to_integer<std::size_t>(tcp[at + 1]);
        if (option_length < 2 || at + option_length > tcp_header)
            break;
        if (kind == kOptionSackPermitted && option_length == 2) {
            rewrite_byte(tcp, at, std::byte{kOptionNop});
            rewrite_byte(tcp, at + 1, std::byte{kOptionNop});
            stripped = true;
        }
        at += option_length;
    }
    return stripped;
}

}  // namespace sluice::test
