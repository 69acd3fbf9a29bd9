// The TCP header and its options (RFC 9293 3.1; MSS RFC 9293 3.7.1; window scale and timestamps
// RFC 7323; SACK RFC 2018) as a validated representation. parse() rejects what no correct sender
// produces: a data offset outside the segment, a malformed option, a bad checksum, illegal flag
// combinations.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include <sluice/addresses.hpp>
#include <sluice/result.hpp>
#include "dataplane/stats/drop_reason.hpp"
#include "dataplane/tcp/seq.hpp"

namespace sluice::wire {

namespace tcp_flag {
inline constexpr std::uint8_t kFin = 0x01;
inline constexpr std::uint8_t kSyn = 0x02;
inline constexpr std::uint8_t kRst = 0x04;
inline constexpr std::uint8_t kPsh = 0x08;
inline constexpr std::uint8_t kAck = 0x10;
inline constexpr std::uint8_t kUrg = 0x20;
inline constexpr std::uint8_t kEce = 0x40;
inline constexpr std::uint8_t kCwr = 0x80;
}  // namespace tcp_flag

struct SackBlock {
    tcp::SeqNum left;
    tcp::SeqNum right;
    friend bool operator==(const SackBlock&, const SackBlock&) = default;
};

struct TcpTimestamps {
    std::uint32_t value = 0;
    std::uint32_t echo_reply = 0;
    friend bool operator==(const TcpTimestamps&, const TcpTimestamps&) = default;
};

struct TcpOptions {
    static constexpr std::size_t kMaxSackBlocks = 4;

    std::optional<std::uint16_t> mss;
    std::optional<std::uint8_t> window_scale;  // as sent; the receiver caps it at 14
    bool sack_permitted = false;
    std::optional<TcpTimestamps> timestamps;
    std::uint8_t sack_block_count = 0;
    std::array<SackBlock, kMaxSackBlocks> sack_blocks{};

    // Bytes emit() writes, padded to a multiple of four.
    std::size_t encoded_length() const;
};

// Whether parse() checks the checksum, or trusts a NIC that already did.
enum class TransportChecksum : std::uint8_t { Verify, VerifiedByDevice };

struct TcpHeader {
    static constexpr std::size_t kMinLength = 20;
    static constexpr std::size_t kMaxLength = 60;

    std::uint16_t source_port = 0;
    std::uint16_t destination_port = 0;
    tcp::SeqNum seq;
    tcp::SeqNum ack;
    std::uint8_t header_length = kMinLength;  // bytes, options included
    std::uint8_t flags = 0;
    std::uint16_t window = 0;
    std::uint16_t urgent_pointer = 0;
    TcpOptions options;

    bool has(std::uint8_t flag) const { return (flags & flag) != 0; }

    // `segment` is the TCP header and payload (the IP payload); the addresses feed the
    // pseudo-header.
    static Result<TcpHeader, DropReason> parse(std::span<const std::byte> segment,
                                               Ipv4Address source, Ipv4Address destination,
                                               TransportChecksum checksum);

    // Writes the header and options (header_length is recomputed from the options) into `out`,
    // which must hold kMinLength + options.encoded_length() bytes; the checksum field is zeroed.
    // Returns the header length written.
    std::size_t emit(std::span<std::byte> out) const;
};

// The TCP checksum over the pseudo-header (RFC 9293 3.1) and `segment` (header with a zeroed
// checksum field, and payload).
be16 tcp_checksum(Ipv4Address source, Ipv4Address destination, std::span<const std::byte> segment);

// The pseudo-header sum alone, as a NIC doing TCP checksum offload wants it in the checksum field.
be16 tcp_pseudo_header_checksum(Ipv4Address source, Ipv4Address destination,
                                std::uint16_t tcp_length);

// Where the checksum field sits in a TCP header.
inline constexpr std::size_t kTcpChecksumOffset = 16;

}  // namespace sluice::wire
