// ICMP (RFC 792): the common header, and echo request to echo reply.
#include "dataplane/wire/icmp.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/wire/checksum.hpp"
#include "dataplane/wire/ipv4.hpp"
#include "tests/support/ring_port.hpp"

namespace sluice::wire {
namespace {

using test::from_hex;

// A copy of the first `n` bytes in a buffer of exactly that size, so that AddressSanitizer reports
// any read past it.
std::vector<std::byte> first(const std::vector<std::byte>& bytes, std::size_t n) {
    return {bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)};
}

void expect_drop(const std::vector<std::byte>& bytes, DropReason reason) {
    const auto h = IcmpHeader::parse(bytes);
    ASSERT_FALSE(h.has_value());
    EXPECT_EQ(h.error(), reason) << drop_reason_name(h.error());
}

// scapy: bytes(ICMP(type=8,id=7,seq=1)/b'hello')
const std::vector<std::byte> kEchoRequestGolden =
    from_hex("08 00 b4 25 00 07 00 01 68 65 6c 6c 6f");

// scapy: bytes(ICMP(type=0,id=7,seq=1)/b'hello')
const std::vector<std::byte> kEchoReplyGolden = from_hex("00 00 bc 25 00 07 00 01 68 65 6c 6c 6f");

// scapy: bytes(ICMP(type=3,code=3)/b'abcdefg')
const std::vector<std::byte> kPortUnreachableGolden =
    from_hex("03 03 6b cf 00 00 00 00 61 62 63 64 65 66 67");

// scapy: bytes(IP(src='10.0.0.1',dst='10.0.0.2',id=1,ttl=64)/ICMP(id=7,seq=1)/b'hello')
const std::vector<std::byte> kIpv4EchoGolden = from_hex(
    "45 00 00 21 00 01 00 00 40 01 66 d9 0a 00 00 01 0a 00 00 02"
    "08 00 b4 25 00 07 00 01 68 65 6c 6c 6f");

IcmpHeader icmp_header(std::uint8_t type, std::uint8_t code, std::uint16_t identifier,
                       std::uint16_t sequence) {
    IcmpHeader h;
    h.type = type;
    h.code = code;
    h.identifier = identifier;
    h.sequence = sequence;
    return h;
}

// The message with its header bytes scribbled over, so that emit() has to write all of them.
std::vector<std::byte> with_scribbled_header(std::vector<std::byte> message) {
    std::fill_n(message.begin(), IcmpHeader::kLength, std::byte{0xa5});
    return message;
}

TEST(WireIcmp, ParsesEchoRequestGolden) {
    const auto h = IcmpHeader::parse(kEchoRequestGolden);
    ASSERT_TRUE(h.has_value()) << drop_reason_name(h.error());
    EXPECT_EQ(h->type, icmp_type::kEchoRequest);
    EXPECT_EQ(h->code, 0);
    EXPECT_EQ(h->checksum.host(), 0xb425);
    EXPECT_EQ(h->identifier, 7);
    EXPECT_EQ(h->sequence, 1);
    EXPECT_TRUE(h->is_echo_request());
}

TEST(WireIcmp, ParsesEchoReplyGolden) {
    const auto h = IcmpHeader::parse(kEchoReplyGolden);
    ASSERT_TRUE(h.has_value()) << drop_reason_name(h.error());
    EXPECT_EQ(h->type, icmp_type::kEchoReply);
    EXPECT_EQ(h->code, 0);
    EXPECT_EQ(h->checksum.host(), 0xbc25);
    EXPECT_EQ(h->identifier, 7);
    EXPECT_EQ(h->sequence, 1);
    EXPECT_FALSE(h->is_echo_request());
}

TEST(WireIcmp, ParsesPortUnreachableGolden) {
    const auto h = IcmpHeader::parse(kPortUnreachableGolden);
    ASSERT_TRUE(h.has_value()) << drop_reason_name(h.error());
    EXPECT_EQ(h->type, icmp_type::kDestinationUnreachable);
    EXPECT_EQ(h->code, 3);
    EXPECT_EQ(h->identifier, 0);
    EXPECT_EQ(h->sequence, 0);
    EXPECT_FALSE(h->is_echo_request());
}

TEST(WireIcmp, ParsesMessageInsideIpv4Golden) {
    const auto ip = Ipv4Header::parse(kIpv4EchoGolden);
    ASSERT_TRUE(ip.has_value()) << drop_reason_name(ip.error());
    const auto h = IcmpHeader::parse(std::span<const std::byte>(kIpv4EchoGolden)
                                         .subspan(ip->header_length, ip->payload_length()));
    ASSERT_TRUE(h.has_value()) << drop_reason_name(h.error());
    EXPECT_TRUE(h->is_echo_request());
    EXPECT_EQ(h->identifier, 7);
    EXPECT_EQ(h->sequence, 1);
}

TEST(WireIcmp, EmitsGoldensWithChecksumOverTheData) {
    // The data ("hello", odd length) is part of the checksum.
    struct Case {
        const char* name;
        const std::vector<std::byte>& golden;
        IcmpHeader header;
    };
    for (const Case& c :
         {Case{"echo request", kEchoRequestGolden, icmp_header(8, 0, 7, 1)},
          Case{"echo reply", kEchoReplyGolden, icmp_header(0, 0, 7, 1)},
          Case{"port unreachable", kPortUnreachableGolden, icmp_header(3, 3, 0, 0)}}) {
        SCOPED_TRACE(c.name);
        std::vector<std::byte> message = with_scribbled_header(c.golden);
        c.header.emit(message);  // the checksum in the repr is ignored
        EXPECT_EQ(message, c.golden);
        EXPECT_TRUE(checksum_is_valid(message));
    }
}

TEST(WireIcmp, EmitsHeaderOnlyMessage) {
    std::vector<std::byte> message(IcmpHeader::kLength, std::byte{0xff});
    const IcmpHeader h = icmp_header(8, 0, 0x1234, 0xfedc);
    h.emit(message);
    EXPECT_TRUE(checksum_is_valid(message));
    EXPECT_EQ(first(message, 2), from_hex("08 00"));
    EXPECT_EQ(std::vector<std::byte>(message.begin() + 4, message.end()), from_hex("12 34 fe dc"));
}

TEST(WireIcmp, RoundTrips) {
    std::mt19937 rng(792);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> word(0, 0xffff);
    std::uniform_int_distribution<std::size_t> data_length(0, 65);
    for (int trial = 0; trial < 200; ++trial) {
        std::vector<std::byte> message(IcmpHeader::kLength + data_length(rng));
        for (std::byte& b : message) {
            b = static_cast<std::byte>(byte(rng));
        }
        IcmpHeader h;
        h.type = static_cast<std::uint8_t>(byte(rng));
        h.code = static_cast<std::uint8_t>(byte(rng));
        h.identifier = static_cast<std::uint16_t>(word(rng));
        h.sequence = static_cast<std::uint16_t>(word(rng));
        h.emit(message);
        const auto back = IcmpHeader::parse(message);
        ASSERT_TRUE(back.has_value()) << "trial " << trial << " " << drop_reason_name(back.error());
        EXPECT_EQ(back->type, h.type);
        EXPECT_EQ(back->code, h.code);
        EXPECT_EQ(back->identifier, h.identifier);
        EXPECT_EQ(back->sequence, h.sequence);
        EXPECT_EQ(back->checksum, load_be16(message.data() + 2));
    }
}

TEST(WireIcmp, RejectsTruncated) {
    for (std::size_t n = 0; n < IcmpHeader::kLength; ++n) {
        SCOPED_TRACE(testing::Message() << "length " << n);
        expect_drop(first(kEchoRequestGolden, n), DropReason::IcmpTruncated);
    }
}

TEST(WireIcmp, RejectsBadChecksum) {
    // A flipped bit anywhere in the message, header or data.
    for (std::size_t bit = 0; bit < kEchoRequestGolden.size() * 8; ++bit) {
        std::vector<std::byte> bytes = kEchoRequestGolden;
        bytes[bit / 8] ^= std::byte(0x80 >> (bit % 8));
        SCOPED_TRACE(testing::Message() << "bit " << bit);
        expect_drop(bytes, DropReason::IcmpBadChecksum);
    }
    // All zeros: the checksum field 0000 is wrong (ffff would be right).
    expect_drop(std::vector<std::byte>(IcmpHeader::kLength), DropReason::IcmpBadChecksum);
    // A message cut short: the checksum no longer matches what is left.
    expect_drop(first(kEchoRequestGolden, kEchoRequestGolden.size() - 1),
                DropReason::IcmpBadChecksum);
}

TEST(WireIcmp, EchoRequestBecomesReplyGolden) {
    std::vector<std::byte> message = kEchoRequestGolden;
    turn_echo_request_into_reply(message);
    EXPECT_EQ(message, kEchoReplyGolden);
    EXPECT_TRUE(checksum_is_valid(message));
    const auto h = IcmpHeader::parse(message);
    ASSERT_TRUE(h.has_value()) << drop_reason_name(h.error());
    EXPECT_EQ(h->type, icmp_type::kEchoReply);
    EXPECT_EQ(h->code, 0);
}

TEST(WireIcmp, EchoRequestBecomesReplyForRandomMessages) {
    std::mt19937 rng(1624);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> word(0, 0xffff);
    std::uniform_int_distribution<std::size_t> data_length(0, 100);
    for (int trial = 0; trial < 500; ++trial) {
        std::vector<std::byte> request(IcmpHeader::kLength + data_length(rng));
        for (std::byte& b : request) {
            b = static_cast<std::byte>(byte(rng));
        }
        const IcmpHeader echo =
            icmp_header(icmp_type::kEchoRequest, 0, static_cast<std::uint16_t>(word(rng)),
                        static_cast<std::uint16_t>(word(rng)));
        echo.emit(request);

        std::vector<std::byte> reply = request;
        turn_echo_request_into_reply(reply);
        SCOPED_TRACE(testing::Message() << "trial " << trial << " length " << reply.size());
        ASSERT_TRUE(checksum_is_valid(reply));
        // Identical to a reply built from scratch (checksum included): only the type changed.
        std::vector<std::byte> expected = request;
        icmp_header(icmp_type::kEchoReply, 0, echo.identifier, echo.sequence).emit(expected);
        ASSERT_EQ(reply, expected);
        const auto h = IcmpHeader::parse(reply);
        ASSERT_TRUE(h.has_value()) << drop_reason_name(h.error());
        EXPECT_EQ(h->type, icmp_type::kEchoReply);
        EXPECT_EQ(h->code, 0);
        EXPECT_EQ(h->identifier, echo.identifier);
        EXPECT_EQ(h->sequence, echo.sequence);
    }
}

}  // namespace
}  // namespace sluice::wire
