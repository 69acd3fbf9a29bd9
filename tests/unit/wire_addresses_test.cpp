// MAC and IPv4 addresses: text conversion, wire conversion and subnet arithmetic.
#include <sluice/addresses.hpp>

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/ring_port.hpp"

namespace sluice::wire {
namespace {

using test::from_hex;

Ipv4Address ip(std::string_view text) {
    const auto a = Ipv4Address::parse(text);
    EXPECT_TRUE(a.has_value()) << text;
    return a.value_or(Ipv4Address{});
}

Ipv4Interface interface(std::string_view text) {
    const auto i = Ipv4Interface::parse(text);
    EXPECT_TRUE(i.has_value()) << text;
    return i.value_or(Ipv4Interface{});
}

TEST(WireMacAddress, ParsesAndPrints) {
    const auto mac = MacAddress::parse("02:00:5e:10:ab:ff");
    ASSERT_TRUE(mac.has_value());
    EXPECT_EQ(mac->octets(), (std::array<std::uint8_t, 6>{0x02, 0x00, 0x5e, 0x10, 0xab, 0xff}));
    EXPECT_EQ(mac->to_string(), "02:00:5e:10:ab:ff");
}

TEST(WireMacAddress, AcceptsUpperCaseAndPrintsLowerCase) {
    const auto mac = MacAddress::parse("AA:BB:CC:Dd:eE:0F");
    ASSERT_TRUE(mac.has_value());
    EXPECT_EQ(mac->octets(), (std::array<std::uint8_t, 6>{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x0f}));
    EXPECT_EQ(mac->to_string(), "aa:bb:cc:dd:ee:0f");
}

TEST(WireMacAddress, RejectsMalformedText) {
    for (const std::string_view text : {
             "",
             "02:00:00:00:00",        // five octets
             "02:00:00:00:00:01:02",  // seven octets
             "02:00:00:00:00:0",      // short last octet
             "02:00:00:00:00:011",    // long last octet
             "2:00:00:00:00:01",      // short first octet
             "2:00:00:00:00:012",     // right length, misplaced separator
             "02-00-00-00-00-01",     // wrong separator
             "02.00.00.00.00.01",     // wrong separator
             "0200.0000.0001",        // Cisco style
             "020000000001",          // no separators
             "02:00:00:00:00:0g",     // not hex
             "02:00:00:00:00:01 ",    // trailing space
             " 02:00:00:00:00:01",    // leading space
             "02:00:00:00:00:01:",    // trailing separator
             "02::00:00:00:00:01",    // empty octet
         }) {
        EXPECT_FALSE(MacAddress::parse(text).has_value()) << '"' << text << '"';
    }
}

TEST(WireMacAddress, LoadAndStoreKeepWireOrder) {
    const std::vector<std::byte> wire = from_hex("02 00 5e 10 ab ff");
    const MacAddress mac = MacAddress::load(wire.data());
    EXPECT_EQ(mac.to_string(), "02:00:5e:10:ab:ff");
    std::vector<std::byte> out(6);
    mac.store(out.data());
    EXPECT_EQ(out, wire);
}

TEST(WireMacAddress, BroadcastAndMulticast) {
    EXPECT_TRUE(MacAddress::broadcast().is_broadcast());
    EXPECT_TRUE(MacAddress::broadcast().is_multicast());
    EXPECT_EQ(MacAddress::broadcast().to_string(), "ff:ff:ff:ff:ff:ff");
    EXPECT_EQ(MacAddress::zero().to_string(), "00:00:00:00:00:00");
    EXPECT_FALSE(MacAddress::zero().is_multicast());
    EXPECT_TRUE(MacAddress::parse("01:00:5e:00:00:01")->is_multicast());
    EXPECT_FALSE(MacAddress::parse("01:00:5e:00:00:01")->is_broadcast());
    EXPECT_FALSE(MacAddress::parse("02:00:00:00:00:01")->is_multicast());
}

TEST(WireIpv4Address, ParsesAndPrints) {
    for (const std::string_view text :
         {"0.0.0.0", "10.0.0.2", "127.0.0.1", "192.168.100.254", "255.255.255.255", "1.20.199.0"}) {
        const auto a = Ipv4Address::parse(text);
        ASSERT_TRUE(a.has_value()) << text;
        EXPECT_EQ(a->to_string(), text);
    }
    EXPECT_EQ(ip("10.1.2.3").host(), 0x0a010203u);
    EXPECT_EQ(ip("10.1.2.3"), Ipv4Address::from_octets(10, 1, 2, 3));
    EXPECT_EQ(ip("255.255.255.255"), Ipv4Address::limited_broadcast());
    EXPECT_EQ(ip("0.0.0.0"), Ipv4Address::any());
}

TEST(WireIpv4Address, RejectsMalformedText) {
    for (const std::string_view text : {
             "",           "256.1.1.1", "1.256.1.1", "1.1.1.256", "1000.1.1.1",
             "1.2.3",      "1.2.3.4.5", "1.2.3.4.",  ".1.2.3.4",  "1..3.4",
             "01.2.3.4",  // leading zero: octal in inet_aton, refused here
             "1.2.3.04",   "00.2.3.4",  "1.2.3.-4",  "1.2.3.+4",  " 1.2.3.4",
             "1.2.3.4 ",   "1.2.3.a",   "0x1.2.3.4", "1,2,3,4",
             "16909060",  // a bare number, which inet_aton would accept
             "1.2.3.4/24",
         }) {
        EXPECT_FALSE(Ipv4Address::parse(text).has_value()) << '"' << text << '"';
    }
}

TEST(WireIpv4Address, WireConversionSwapsOnlyAtTheBoundary) {
    const Ipv4Address a = ip("192.168.1.10");
    std::vector<std::byte> out(4);
    store_be32(out.data(), a.wire());
    EXPECT_EQ(out, from_hex("c0 a8 01 0a"));
    EXPECT_EQ(Ipv4Address::from_wire(load_be32(out.data())), a);
}

TEST(WireIpv4Address, Classification) {
    EXPECT_TRUE(ip("0.0.0.0").is_any());
    EXPECT_FALSE(ip("0.0.0.1").is_any());
    EXPECT_TRUE(ip("255.255.255.255").is_limited_broadcast());
    EXPECT_FALSE(ip("10.0.0.255").is_limited_broadcast());
    EXPECT_TRUE(ip("224.0.0.1").is_multicast());
    EXPECT_TRUE(ip("239.255.255.255").is_multicast());
    EXPECT_FALSE(ip("223.255.255.255").is_multicast());
    EXPECT_FALSE(ip("240.0.0.0").is_multicast());
    EXPECT_TRUE(ip("127.0.0.1").is_loopback());
    EXPECT_FALSE(ip("128.0.0.1").is_loopback());
}

TEST(WireIpv4Address, OrdersNumerically) {
    EXPECT_LT(ip("9.255.255.255"), ip("10.0.0.0"));
    EXPECT_LT(ip("10.0.0.2"), ip("10.0.0.10"));
}

TEST(WireIpv4Interface, ParsesAndPrints) {
    const auto i = Ipv4Interface::parse("10.0.0.2/24");
    ASSERT_TRUE(i.has_value());
    EXPECT_EQ(i->address, ip("10.0.0.2"));
    EXPECT_EQ(i->prefix_length, 24);
    EXPECT_EQ(i->to_string(), "10.0.0.2/24");
    for (const std::string_view text :
         {"0.0.0.0/0", "192.168.1.1/32", "10.0.0.0/8", "10.9.8.7/31"}) {
        const auto parsed = Ipv4Interface::parse(text);
        ASSERT_TRUE(parsed.has_value()) << text;
        EXPECT_EQ(parsed->to_string(), text);
    }
}

TEST(WireIpv4Interface, RejectsMalformedText) {
    for (const std::string_view text : {
             "",
             "1.2.3.4",  // the prefix is required
             "1.2.3.4/",
             "1.2.3.4/33",
             "1.2.3.4/100",
             "1.2.3.4/024",
             "1.2.3.4/-1",
             "1.2.3.4/ 24",
             "1.2.3.4/24 ",
             "1.2.3.4/24/8",
             "1.2.3.4//24",
             "/24",
             "256.1.1.1/24",
             "1.2.3/24",
             "01.2.3.4/24",
         }) {
        EXPECT_FALSE(Ipv4Interface::parse(text).has_value()) << '"' << text << '"';
    }
}

TEST(WireIpv4Interface, PrefixZeroCoversEverything) {
    const Ipv4Interface i = interface("10.0.0.2/0");
    EXPECT_EQ(i.netmask(), 0u);
    EXPECT_TRUE(i.on_link(ip("10.0.0.3")));
    EXPECT_TRUE(i.on_link(ip("192.168.1.1")));
    EXPECT_TRUE(i.on_link(ip("255.255.255.255")));
    EXPECT_EQ(i.subnet_broadcast(), ip("255.255.255.255"));
}

TEST(WireIpv4Interface, Prefix24) {
    const Ipv4Interface i = interface("10.0.0.2/24");
    EXPECT_EQ(i.netmask(), 0xffffff00u);
    EXPECT_TRUE(i.on_link(ip("10.0.0.0")));
    EXPECT_TRUE(i.on_link(ip("10.0.0.1")));
    EXPECT_TRUE(i.on_link(ip("10.0.0.2")));
    EXPECT_TRUE(i.on_link(ip("10.0.0.255")));
    EXPECT_FALSE(i.on_link(ip("10.0.1.1")));
    EXPECT_FALSE(i.on_link(ip("11.0.0.2")));
    EXPECT_FALSE(i.on_link(ip("9.255.255.255")));
    EXPECT_EQ(i.subnet_broadcast(), ip("10.0.0.255"));
}

TEST(WireIpv4Interface, Prefix31) {
    // RFC 3021 point-to-point link: two addresses, no room for a network or broadcast address.
    const Ipv4Interface i = interface("10.0.0.2/31");
    EXPECT_EQ(i.netmask(), 0xfffffffeu);
    EXPECT_TRUE(i.on_link(ip("10.0.0.2")));
    EXPECT_TRUE(i.on_link(ip("10.0.0.3")));
    EXPECT_FALSE(i.on_link(ip("10.0.0.1")));
    EXPECT_FALSE(i.on_link(ip("10.0.0.4")));
    // The arithmetic value; whether to treat it as a broadcast on a /31 is the caller's policy.
    EXPECT_EQ(i.subnet_broadcast(), ip("10.0.0.3"));
}

TEST(WireIpv4Interface, Prefix32) {
    const Ipv4Interface i = interface("10.0.0.2/32");
    EXPECT_EQ(i.netmask(), 0xffffffffu);
    EXPECT_TRUE(i.on_link(ip("10.0.0.2")));
    EXPECT_FALSE(i.on_link(ip("10.0.0.3")));
    EXPECT_FALSE(i.on_link(ip("10.0.0.1")));
    EXPECT_EQ(i.subnet_broadcast(), ip("10.0.0.2"));
}

TEST(WireIpv4Interface, NetmaskForEveryPrefixLength) {
    for (std::uint8_t n = 0; n <= 32; ++n) {
        const Ipv4Interface i{ip("172.16.5.4"), n};
        const std::uint32_t expected =
            n == 0 ? 0u : static_cast<std::uint32_t>(0xffffffffull << (32 - n));
        EXPECT_EQ(i.netmask(), expected) << "/" << int{n};
        EXPECT_EQ(std::popcount(i.netmask()), n) << "/" << int{n};
        EXPECT_EQ(i.subnet_broadcast().host(), i.address.host() | ~expected) << "/" << int{n};
    }
}

}  // namespace
}  // namespace sluice::wire

namespace sluice::wire {
namespace {

TEST(Ipv4Endpoint, ParsesAddressAndPortAndRefusesTheRest) {
    const auto e = Ipv4Endpoint::parse("10.0.0.1:80");
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->address, Ipv4Address::from_octets(10, 0, 0, 1));
    EXPECT_EQ(e->port, 80);
    EXPECT_EQ(e->to_string(), "10.0.0.1:80");
    EXPECT_EQ(Ipv4Endpoint::parse("192.168.1.2:65535")->port, 65535);
    for (const char* bad :
         {"10.0.0.1", "10.0.0.1:", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:080", "10.0.0.1:80x",
          "10.0.0:80", ":80", "host:80", "10.0.0.1:-1", "10.0.0.1:+80"}) {
        EXPECT_FALSE(Ipv4Endpoint::parse(bad).has_value()) << bad;
    }
}

}  // namespace
}  // namespace sluice::wire
