#include "dataplane/wire/tcp.hpp"

#include <cassert>

#include <sluice/byte_order.hpp>
#include "dataplane/wire/checksum.hpp"

namespace sluice::wire {

namespace {

namespace kind {
constexpr std::uint8_t kEnd = 0;
constexpr std::uint8_t kNop = 1;
constexpr std::uint8_t kMss = 2;
constexpr std::uint8_t kWindowScale = 3;
constexpr std::uint8_t kSackPermitted = 4;
constexpr std::uint8_t kSack = 5;
constexpr std::uint8_t kTimestamps = 8;
}  // namespace kind

std::uint32_t pseudo_header_sum(Ipv4Address source, Ipv4Address destination,
                                std::uint16_t tcp_length) {
    // Summed as 16-bit words in network order, like the rest of the segment.
    std::byte header[12];
    store_be32(header, source.wire());
    store_be32(header + 4, destination.wire());
    header[8] = std::byte{0};
    header[9] = std::byte{6};  // IPPROTO_TCP
    store_be16(header + 10, be16::from_host(tcp_length));
    return rte_raw_cksum(header, sizeof header);
}

std::uint16_t fold(std::uint32_t sum) {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}

// NOP, NOP, timestamps (kind 8, length 10), and the length of the whole layout.
constexpr std::uint32_t kAlignedTimestampsPrefix = 0x0101080a;
constexpr std::size_t kAlignedTimestampsLength = 12;

// Reads options; a length that is too short, runs past the header, or does not fit its kind makes
// the whole segment invalid (RFC 9293 3.1: must handle an illegal option length without crashing).
bool parse_options(std::span<const std::byte> bytes, TcpOptions& out) {
    std::size_t i = 0;
    while (i < bytes.size()) {
        const auto k = std::to_integer<std::uint8_t>(bytes[i]);
        if (k == kind::kEnd)
            return true;
        if (k == kind::kNop) {
            ++i;
            continue;
        }
        if (i + 1 >= bytes.size())
            return false;
        const auto length = std::to_integer<std::uint8_t>(bytes[i + 1]);
        if (length < 2 || i + length > bytes.size())
            return false;
        const std::byte* p = bytes.data() + i + 2;
        switch (k) {
            case kind::kMss:
                if (length != 4)
                    return false;
                out.mss = load_be16(p).host();
                break;
            case kind::kWindowScale:
                if (length != 3)
                    return false;
                out.window_scale = std::to_integer<std::uint8_t>(p[0]);
                break;
            case kind::kSackPermitted:
                if (length != 2)
                    return false;
                out.sack_permitted = true;
                break;
            case kind::kSack: {
                if ((length - 2) % 8 != 0 || length == 2)
                    return false;
                const std::size_t blocks = (length - 2) / 8;
                out.sack_block_count = 0;
                for (std::size_t b = 0; b < blocks && b < TcpOptions::kMaxSackBlocks; ++b) {
                    out.sack_blocks[b] = {tcp::SeqNum(load_be32(p + b * 8).host()),
                                          tcp::SeqNum(load_be32(p + b * 8 + 4).host())};
                    ++out.sack_block_count;
                }
                break;
            }
            case kind::kTimestamps:
                if (length != 10)
                    return false;
                out.timestamps = TcpTimestamps{load_be32(p).host(), load_be32(p + 4).host()};
                break;
            default:
                break;  // RFC 9293 3.1: unknown options are skipped by their length
        }
        i += length;
    }
    return true;
}

bool flags_are_legal(std::uint8_t flags) {
    using namespace tcp_flag;
    if ((flags & (kSyn | kFin)) == (kSyn | kFin))
        return false;
    if ((flags & (kSyn | kRst)) == (kSyn | kRst))
        return false;
    // Every segment but a first SYN or a RST carries an ACK (RFC 9293 3.10.7); FIN, PSH or URG
    // without one, or no flag at all, is a scan, not a conversation.
    if ((flags & (kSyn | kRst | kAck)) == 0)
        return false;
    return true;
}

}  // namespace

std::size_t TcpOptions::encoded_length() const {
    std::size_t n = 0;
    if (mss)
        n += 4;
    if (window_scale)
        n += 4;  // NOP + 3
    if (timestamps)
        n += 12;  // NOP NOP + 10, or SACK-permitted + 10
    if (sack_permitted && !timestamps)
        n += 4;  // NOP NOP + 2
    if (sack_block_count > 0)
        n += 4 + 8 * std::size_t{sack_block_count};  // NOP NOP + 2 + 8n
    return n;
}

Result<TcpHeader, DropReason> TcpHeader::parse(std::span<const std::byte> segment,
                                               Ipv4Address source, Ipv4Address destination,
                                               TransportChecksum checksum) {
    // The header is built where the caller receives it (every return is `result`, so the
    // compiler elides the copy, and the value is constructed in place): building it aside and
    // copying it out cost a store-forwarding stall on every segment (bench/micro segment_path).
    Result<TcpHeader, DropReason> result{std::in_place};
    const auto refuse = [&result](DropReason why) { result = Unexpected{why}; };
    if (segment.size() < kMinLength) {
        refuse(DropReason::TcpTruncated);
        return result;
    }
    const std::byte* p = segment.data();
    TcpHeader& h = result.value();
    h.header_length = static_cast<std::uint8_t>((std::to_integer<std::uint8_t>(p[12]) >> 4) * 4);
    if (h.header_length < kMinLength || h.header_length > segment.size()) {
        refuse(DropReason::TcpBadHeaderLength);
        return result;
    }
    if (checksum == TransportChecksum::Verify &&
        tcp_checksum(source, destination, segment) != be16{}) {
        refuse(DropReason::TcpBadChecksum);
        return result;
    }
    h.source_port = load_be16(p).host();
    h.destination_port = load_be16(p + 2).host();
    h.seq = tcp::SeqNum(load_be32(p + 4).host());
    h.ack = tcp::SeqNum(load_be32(p + 8).host());
    h.flags = std::to_integer<std::uint8_t>(p[13]);
    h.window = load_be16(p + 14).host();
    h.urgent_pointer = load_be16(p + 18).host();
    if (!flags_are_legal(h.flags)) {
        refuse(DropReason::TcpBadFlags);
        return result;
    }
    if (h.source_port == 0 || h.destination_port == 0) {
        refuse(DropReason::TcpBadPort);
        return result;
    }
    // RFC 7323 Appendix A's layout, which Linux and the BSDs put on every segment once timestamps
    // are on: NOP, NOP, kind 8, length 10. Read it straight off, as Linux's
    // tcp_parse_aligned_timestamp() does; any other layout takes the general walk.
    if (h.header_length == kMinLength + kAlignedTimestampsLength &&
        load_be32(p + kMinLength) == be32::from_host(kAlignedTimestampsPrefix)) {
        h.options.timestamps = TcpTimestamps{load_be32(p + kMinLength + 4).host(),
                                             load_be32(p + kMinLength + 8).host()};
        return result;
    }
    if (!parse_options(segment.subspan(kMinLength, h.header_length - kMinLength), h.options)) {
        refuse(DropReason::TcpBadOption);
        return result;
    }
    return result;
}

std::size_t TcpHeader::emit(std::span<std::byte> out) const {
    const std::size_t length = kMinLength + options.encoded_length();
    assert(out.size() >= length && length <= kMaxLength);
    std::byte* p = out.data();
    store_be16(p, be16::from_host(source_port));
    store_be16(p + 2, be16::from_host(destination_port));
    store_be32(p + 4, be32::from_host(seq.raw()));
    store_be32(p + 8, be32::from_host(ack.raw()));
    p[12] = std::byte{static_cast<std::uint8_t>((length / 4) << 4)};
    p[13] = std::byte{flags};
    store_be16(p + 14, be16::from_host(window));
    store_be16(p + 16, be16{});
    store_be16(p + 18, be16::from_host(urgent_pointer));

    // The layouts Linux uses, so that captures look familiar and every option stays aligned.
    std::byte* o = p + kMinLength;
    const auto put = [&o](std::uint8_t v) { *o++ = std::byte{v}; };
    if (options.mss) {
        put(kind::kMss);
        put(4);
        store_be16(o, be16::from_host(*options.mss));
        o += 2;
    }
    if (options.sack_permitted && options.timestamps) {
        put(kind::kSackPermitted);
        put(2);
    } else if (options.timestamps) {
        put(kind::kNop);
        put(kind::kNop);
    }
    if (options.timestamps) {
        put(kind::kTimestamps);
        put(10);
        store_be32(o, be32::from_host(options.timestamps->value));
        store_be32(o + 4, be32::from_host(options.timestamps->echo_reply));
        o += 8;
    } else if (options.sack_permitted) {
        put(kind::kNop);
        put(kind::kNop);
        put(kind::kSackPermitted);
        put(2);
    }
    if (options.window_scale) {
        put(kind::kNop);
        put(kind::kWindowScale);
        put(3);
        put(*options.window_scale);
    }
    if (options.sack_block_count > 0) {
        put(kind::kNop);
        put(kind::kNop);
        put(kind::kSack);
        put(static_cast<std::uint8_t>(2 + 8 * options.sack_block_count));
        for (std::uint8_t b = 0; b < options.sack_block_count; ++b) {
            store_be32(o, be32::from_host(options.sack_blocks[b].left.raw()));
            store_be32(o + 4, be32::from_host(options.sack_blocks[b].right.raw()));
            o += 8;
        }
    }
    assert(static_cast<std::size_t>(o - p) == length);
    return length;
}

be16 tcp_checksum(Ipv4Address source, Ipv4Address destination, std::span<const std::byte> segment) {
    const std::uint32_t sum =
        pseudo_header_sum(source, destination, static_cast<std::uint16_t>(segment.size())) +
        rte_raw_cksum(segment.data(), segment.size());
    return be16::from_raw(static_cast<std::uint16_t>(~fold(sum)));
}

be16 tcp_pseudo_header_checksum(Ipv4Address source, Ipv4Address destination,
                                std::uint16_t tcp_length) {
    return be16::from_raw(fold(pseudo_header_sum(source, destination, tcp_length)));
}

}  // namespace sluice::wire
