// ARP for IPv4 over Ethernet (RFC 826).
#include "dataplane/wire/arp.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/ring_port.hpp"

namespace sluice::wire {
namespace {

using test::from_hex;

constexpr std::byte kUntouched{0xa5};

MacAddress mac(std::string_view text) {
    return MacAddress::parse(text).value();
}
Ipv4Address ip(std::string_view text) {
    return Ipv4Address::parse(text).value();
}

// A copy of the first `n` bytes in a buffer of exactly that size, so that AddressSanitizer reports
// any read past it.
std::vector<std::byte> first(const std::vector<std::byte>& bytes, std::size_t n) {
    return {bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)};
}

// Emits into a buffer of exactly kLength bytes, and checks that a larger buffer is written only
// within kLength.
std::vector<std::byte> emit(const ArpPacket& a) {
    std::vector<std::byte> exact(ArpPacket::kLength);
    a.emit(exact);
    std::vector<std::byte> larger(ArpPacket::kLength + 18, kUntouched);
    a.emit(larger);
    for (std::size_t i = ArpPacket::kLength; i < larger.size(); ++i) {
        EXPECT_EQ(larger[i], kUntouched) << "emit wrote byte " << i;
    }
    EXPECT_TRUE(std::equal(exact.begin(), exact.end(), larger.begin()));
    return exact;
}

void expect_same(const ArpPacket& a, const ArpPacket& b) {
    EXPECT_EQ(a.operation, b.operation);
    EXPECT_EQ(a.sender_mac, b.sender_mac);
    EXPECT_EQ(a.sender_ip, b.sender_ip);
    EXPECT_EQ(a.target_mac, b.target_mac);
    EXPECT_EQ(a.target_ip, b.target_ip);
}

void expect_drop(const std::vector<std::byte>& bytes, DropReason reason) {
    const auto a = ArpPacket::parse(bytes);
    ASSERT_FALSE(a.has_value());
    EXPECT_EQ(a.error(), reason) << drop_reason_name(a.error());
}

// scapy: bytes(ARP(op=1,hwsrc='02:00:00:00:00:01',psrc='10.0.0.1',hwdst='00:00:00:00:00:00',
//                  pdst='10.0.0.2'))
const std::vector<std::byte> kRequestGolden =
    from_hex("00 01 08 00 06 04 00 01 02 00 00 00 00 01 0a 00 00 01 00 00 00 00 00 00 0a 00 00 02");

// scapy: bytes(ARP(op=2,hwsrc='02:00:00:00:00:02',psrc='10.0.0.2',hwdst='02:00:00:00:00:01',
//                  pdst='10.0.0.1'))
const std::vector<std::byte> kReplyGolden =
    from_hex("00 01 08 00 06 04 00 02 02 00 00 00 00 02 0a 00 00 02 02 00 00 00 00 01 0a 00 00 01");

ArpPacket golden_request() {
    ArpPacket a;
    a.operation = ArpOperation::Request;
    a.sender_mac = mac("02:00:00:00:00:01");
    a.sender_ip = ip("10.0.0.1");
    a.target_mac = MacAddress::zero();
    a.target_ip = ip("10.0.0.2");
    return a;
}

ArpPacket golden_reply() {
    ArpPacket a;
    a.operation = ArpOperation::Reply;
    a.sender_mac = mac("02:00:00:00:00:02");
    a.sender_ip = ip("10.0.0.2");
    a.target_mac = mac("02:00:00:00:00:01");
    a.target_ip = ip("10.0.0.1");
    return a;
}

TEST(WireArp, ParsesRequestGolden) {
    const auto a = ArpPacket::parse(kRequestGolden);
    ASSERT_TRUE(a.has_value());
    expect_same(*a, golden_request());
    EXPECT_FALSE(a->is_gratuitous());
}

TEST(WireArp, ParsesReplyGolden) {
    const auto a = ArpPacket::parse(kReplyGolden);
    ASSERT_TRUE(a.has_value());
    expect_same(*a, golden_reply());
}

TEST(WireArp, EmitsRequestGolden) {
    EXPECT_EQ(emit(golden_request()), kRequestGolden);
}

TEST(WireArp, EmitsReplyGolden) {
    EXPECT_EQ(emit(golden_reply()), kReplyGolden);
}

TEST(WireArp, RoundTrips) {
    ArpPacket gratuitous;
    gratuitous.operation = ArpOperation::Request;
    gratuitous.sender_mac = mac("0a:1b:2c:3d:4e:5f");
    gratuitous.sender_ip = ip("192.168.1.77");
    gratuitous.target_mac = MacAddress::zero();
    gratuitous.target_ip = ip("192.168.1.77");
    ArpPacket high_bits;
    high_bits.operation = ArpOperation::Reply;
    high_bits.sender_mac = mac("ff:fe:fd:fc:fb:fa");
    high_bits.sender_ip = ip("255.254.253.252");
    high_bits.target_mac = MacAddress::broadcast();
    high_bits.target_ip = ip("0.0.0.0");
    for (const ArpPacket& a : {golden_request(), golden_reply(), gratuitous, high_bits}) {
        const auto back = ArpPacket::parse(emit(a));
        ASSERT_TRUE(back.has_value());
        expect_same(*back, a);
        EXPECT_EQ(back->is_gratuitous(), a.sender_ip == a.target_ip);
    }
}

TEST(WireArp, GratuitousWhenSenderAndTargetAddressesMatch) {
    ArpPacket a = golden_request();
    EXPECT_FALSE(a.is_gratuitous());
    a.target_ip = a.sender_ip;
    EXPECT_TRUE(a.is_gratuitous());
}

TEST(WireArp, AcceptsEthernetPadding) {
    // An ARP packet fills only 28 of the 46 bytes of a minimum Ethernet payload.
    std::vector<std::byte> padded = kReplyGolden;
    padded.resize(46, std::byte{0});
    const auto a = ArpPacket::parse(padded);
    ASSERT_TRUE(a.has_value());
    expect_same(*a, golden_reply());
}

TEST(WireArp, RejectsTruncated) {
    for (std::size_t n = 0; n < ArpPacket::kLength; ++n) {
        SCOPED_TRACE(testing::Message() << "length " << n);
        expect_drop(first(kRequestGolden, n), DropReason::ArpTruncated);
    }
}

TEST(WireArp, RejectsOtherHardwareTypes) {
    for (const std::uint8_t htype : {0, 6, 0xff}) {  // 6 is IEEE 802 networks
        std::vector<std::byte> bytes = kRequestGolden;
        bytes[0] = std::byte{0};
        bytes[1] = std::byte{htype};
        SCOPED_TRACE(testing::Message() << "htype " << int{htype});
        expect_drop(bytes, DropReason::ArpUnsupportedFormat);
    }
    std::vector<std::byte> high_byte = kRequestGolden;
    high_byte[0] = std::byte{0x01};  // 0x0101
    expect_drop(high_byte, DropReason::ArpUnsupportedFormat);
}

TEST(WireArp, RejectsOtherProtocolTypes) {
    for (const std::uint16_t ptype : {0x0000, 0x86dd, 0x0806, 0x0008}) {
        std::vector<std::byte> bytes = kRequestGolden;
        bytes[2] = std::byte(ptype >> 8);
        bytes[3] = std::byte(ptype & 0xff);
        SCOPED_TRACE(testing::Message() << "ptype " << std::hex << ptype);
        expect_drop(bytes, DropReason::ArpUnsupportedFormat);
    }
}

TEST(WireArp, RejectsOtherAddressLengths) {
    for (const std::uint8_t hlen : {0, 5, 7, 8}) {
        std::vector<std::byte> bytes = kRequestGolden;
        bytes[4] = std::byte{hlen};
        SCOPED_TRACE(testing::Message() << "hlen " << int{hlen});
        expect_drop(bytes, DropReason::ArpUnsupportedFormat);
    }
    for (const std::uint8_t plen : {0, 3, 5, 16}) {
        std::vector<std::byte> bytes = kRequestGolden;
        bytes[5] = std::byte{plen};
        SCOPED_TRACE(testing::Message() << "plen " << int{plen});
        expect_drop(bytes, DropReason::ArpUnsupportedFormat);
    }
}

TEST(WireArp, RejectsOtherOperations) {
    // 3 and 4 are RARP (RFC 903); 0 is reserved; 0x0101 catches a byte-order slip.
    for (const std::uint16_t op : {0x0003, 0x0004, 0x0000, 0x0101, 0x0100, 0x0200, 0xffff}) {
        std::vector<std::byte> bytes = kRequestGolden;
        bytes[6] = std::byte(op >> 8);
        bytes[7] = std::byte(op & 0xff);
        SCOPED_TRACE(testing::Message() << "op " << std::hex << op);
        expect_drop(bytes, DropReason::ArpUnsupportedOperation);
    }
}

}  // namespace
}  // namespace sluice::wire
