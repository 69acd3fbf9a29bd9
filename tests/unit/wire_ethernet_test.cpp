// Ethernet II headers, untagged and with one 802.1Q tag.
#include "dataplane/wire/ethernet.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
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

// A copy of the first `n` bytes in a buffer of exactly that size, so that AddressSanitizer reports
// any read past it.
std::vector<std::byte> first(const std::vector<std::byte>& bytes, std::size_t n) {
    return {bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)};
}

// Emits into a buffer of exactly h.length() bytes, and checks that a larger buffer is written only
// within h.length().
std::vector<std::byte> emit(const EthernetHeader& h) {
    std::vector<std::byte> exact(h.length());
    h.emit(exact);
    std::vector<std::byte> larger(h.length() + 8, kUntouched);
    h.emit(larger);
    for (std::size_t i = h.length(); i < larger.size(); ++i) {
        EXPECT_EQ(larger[i], kUntouched) << "emit wrote byte " << i;
    }
    EXPECT_TRUE(std::equal(exact.begin(), exact.end(), larger.begin()));
    return exact;
}

// scapy: bytes(Ether(dst='02:00:00:00:00:02',src='02:00:00:00:00:01',type=0x0800))
const std::vector<std::byte> kUntaggedGolden =
    from_hex("02 00 00 00 00 02 02 00 00 00 00 01 08 00");

// scapy: bytes(Ether(dst='ff:ff:ff:ff:ff:ff',src='02:00:00:00:00:01')/
//              Dot1Q(prio=5,id=1,vlan=100,type=0x0806))
const std::vector<std::byte> kTaggedGolden =
    from_hex("ff ff ff ff ff ff 02 00 00 00 00 01 81 00 b0 64 08 06");

TEST(WireEthernet, ParsesUntaggedGolden) {
    const auto h = EthernetHeader::parse(kUntaggedGolden);
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->destination, mac("02:00:00:00:00:02"));
    EXPECT_EQ(h->source, mac("02:00:00:00:00:01"));
    EXPECT_EQ(h->ethertype, ethertype::kIpv4);
    EXPECT_FALSE(h->vlan_tci.has_value());
    EXPECT_FALSE(h->vlan_id().has_value());
    EXPECT_EQ(h->length(), 14u);
}

TEST(WireEthernet, EmitsUntaggedGolden) {
    EthernetHeader h;
    h.destination = mac("02:00:00:00:00:02");
    h.source = mac("02:00:00:00:00:01");
    h.ethertype = ethertype::kIpv4;
    EXPECT_EQ(emit(h), kUntaggedGolden);
}

TEST(WireEthernet, ParsesTaggedGolden) {
    const auto h = EthernetHeader::parse(kTaggedGolden);
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->destination, MacAddress::broadcast());
    EXPECT_EQ(h->source, mac("02:00:00:00:00:01"));
    // The inner ethertype, not 0x8100.
    EXPECT_EQ(h->ethertype, ethertype::kArp);
    ASSERT_TRUE(h->vlan_tci.has_value());
    // Priority 5, DEI 1, VLAN 100.
    EXPECT_EQ(*h->vlan_tci, 5u << 13 | 1u << 12 | 100u);
    EXPECT_EQ(h->vlan_id(), std::optional<std::uint16_t>(100));
    EXPECT_EQ(h->length(), 18u);
}

TEST(WireEthernet, EmitsTaggedGolden) {
    EthernetHeader h;
    h.destination = MacAddress::broadcast();
    h.source = mac("02:00:00:00:00:01");
    h.vlan_tci = 0xb064;
    h.ethertype = ethertype::kArp;
    EXPECT_EQ(emit(h), kTaggedGolden);
}

TEST(WireEthernet, ParsesHeaderOfALongerFrame) {
    // scapy: bytes(Ether(dst='02:00:00:00:00:02',src='02:00:00:00:00:01')/Dot1Q(vlan=42)/
    //              IP(src='10.0.0.1',dst='10.0.0.2',id=1,ttl=64)/ICMP(id=7,seq=1)/b'hello')
    const std::vector<std::byte> frame = from_hex(
        "02 00 00 00 00 02 02 00 00 00 00 01 81 00 00 2a 08 00 45 00 00 21 00 01 00 00 40 01 66 d9"
        "0a 00 00 01 0a 00 00 02 08 00 b4 25 00 07 00 01 68 65 6c 6c 6f");
    const auto h = EthernetHeader::parse(frame);
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->ethertype, ethertype::kIpv4);
    EXPECT_EQ(h->vlan_id(), std::optional<std::uint16_t>(42));
    ASSERT_EQ(h->length(), 18u);
    // The network header starts right after length(): the IPv4 version/IHL byte.
    EXPECT_EQ(frame[h->length()], std::byte{0x45});
}

TEST(WireEthernet, RoundTripsUntagged) {
    for (const std::uint16_t type :
         {ethertype::kIpv4, ethertype::kArp, std::uint16_t{0x86dd}, std::uint16_t{0x88a8},
          std::uint16_t{0x0000}, std::uint16_t{0xffff}}) {
        EthernetHeader h;
        h.destination = mac("0a:1b:2c:3d:4e:5f");
        h.source = mac("f0:e1:d2:c3:b4:a5");
        h.ethertype = type;
        const std::vector<std::byte> bytes = emit(h);
        ASSERT_EQ(bytes.size(), 14u);
        const auto back = EthernetHeader::parse(bytes);
        ASSERT_TRUE(back.has_value()) << std::hex << type;
        EXPECT_EQ(back->destination, h.destination);
        EXPECT_EQ(back->source, h.source);
        EXPECT_EQ(back->ethertype, type);
        EXPECT_FALSE(back->vlan_tci.has_value());
    }
}

TEST(WireEthernet, RoundTripsTagged) {
    for (const std::uint16_t tci : {0x0000, 0x0001, 0x0064, 0x0fff, 0xe064, 0x1000, 0xffff}) {
        for (const std::uint16_t type : {ethertype::kIpv4, ethertype::kArp}) {
            EthernetHeader h;
            h.destination = MacAddress::broadcast();
            h.source = mac("02:00:00:00:00:07");
            h.vlan_tci = tci;
            h.ethertype = type;
            const std::vector<std::byte> bytes = emit(h);
            ASSERT_EQ(bytes.size(), 18u);
            const auto back = EthernetHeader::parse(bytes);
            ASSERT_TRUE(back.has_value()) << std::hex << tci;
            EXPECT_EQ(back->destination, h.destination);
            EXPECT_EQ(back->source, h.source);
            EXPECT_EQ(back->vlan_tci, std::optional<std::uint16_t>(tci));
            EXPECT_EQ(back->vlan_id(), std::optional<std::uint16_t>(tci & 0x0fff));
            EXPECT_EQ(back->ethertype, type);
        }
    }
}

TEST(WireEthernet, RejectsTruncatedUntagged) {
    for (std::size_t n = 0; n < EthernetHeader::kUntaggedLength; ++n) {
        const std::vector<std::byte> bytes = first(kUntaggedGolden, n);
        const auto h = EthernetHeader::parse(bytes);
        ASSERT_FALSE(h.has_value()) << "length " << n;
        EXPECT_EQ(h.error(), DropReason::EthernetTruncated) << "length " << n;
    }
}

TEST(WireEthernet, RejectsTruncatedTagged) {
    for (std::size_t n = 0; n < EthernetHeader::kUntaggedLength + EthernetHeader::kTagLength; ++n) {
        const std::vector<std::byte> bytes = first(kTaggedGolden, n);
        const auto h = EthernetHeader::parse(bytes);
        ASSERT_FALSE(h.has_value()) << "length " << n;
        EXPECT_EQ(h.error(), DropReason::EthernetTruncated) << "length " << n;
    }
}

TEST(WireEthernet, SecondTagIsLeftForTheClassifier) {
    // scapy: bytes(Ether(dst='02:00:00:00:00:02',src='02:00:00:00:00:01')/Dot1Q(vlan=10)/
    //              Dot1Q(vlan=20,type=0x0800))
    const std::vector<std::byte> qinq =
        from_hex("02 00 00 00 00 02 02 00 00 00 00 01 81 00 00 0a 81 00 00 14 08 00");
    const auto h = EthernetHeader::parse(qinq);
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->vlan_id(), std::optional<std::uint16_t>(10));
    EXPECT_EQ(h->ethertype, ethertype::kVlan);
    EXPECT_EQ(h->length(), 18u);
}

TEST(WireEthernet, ServiceTagIsNotParsedAsATag) {
    // 802.1ad's 0x88a8 is an ordinary ethertype here, so only 14 bytes are needed.
    const std::vector<std::byte> bytes = from_hex("02 00 00 00 00 02 02 00 00 00 00 01 88 a8");
    const auto h = EthernetHeader::parse(bytes);
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->ethertype, 0x88a8);
    EXPECT_FALSE(h->vlan_tci.has_value());
}

}  // namespace
}  // namespace sluice::wire
