// Link and network addresses as value types with text conversion (for flags, logs and tests).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include <sluice/byte_order.hpp>

namespace sluice::wire {

class MacAddress {
  public:
    constexpr MacAddress() = default;
    constexpr explicit MacAddress(std::array<std::uint8_t, 6> octets) : octets_(octets) {}
    static constexpr MacAddress broadcast() {
        return MacAddress({0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
    }
    static constexpr MacAddress zero() { return MacAddress(); }

    // Inline, copying straight into and out of the octets: built aside byte by byte and read back
    // whole, the address cost a store-forwarding stall in every Ethernet parse (bench/micro
    // segment_path).
    static MacAddress load(const std::byte* p) {
        MacAddress a;
        std::memcpy(a.octets_.data(), p, a.octets_.size());
        return a;
    }
    void store(std::byte* p) const { std::memcpy(p, octets_.data(), octets_.size()); }
    static std::optional<MacAddress> parse(std::string_view text);
    std::string to_string() const;

    constexpr bool is_broadcast() const { return *this == broadcast(); }
    constexpr bool is_multicast() const { return (octets_[0] & 0x01) != 0; }
    constexpr const std::array<std::uint8_t, 6>& octets() const { return octets_; }
    friend constexpr bool operator==(const MacAddress&, const MacAddress&) = default;

  private:
    std::array<std::uint8_t, 6> octets_{};
};

// An IPv4 address, held in host order so that masks and comparisons read naturally; it converts to
// and from be32 at the wire boundary only.
class Ipv4Address {
  public:
    constexpr Ipv4Address() = default;
    static constexpr Ipv4Address from_host(std::uint32_t v) { return Ipv4Address(v); }
    static constexpr Ipv4Address from_wire(be32 v) { return Ipv4Address(v.host()); }
    static constexpr Ipv4Address from_octets(std::uint8_t a, std::uint8_t b, std::uint8_t c,
                                             std::uint8_t d) {
        return Ipv4Address(std::uint32_t{a} << 24 | std::uint32_t{b} << 16 | std::uint32_t{c} << 8 |
                           d);
    }
    static constexpr Ipv4Address any() { return Ipv4Address(0); }
    static constexpr Ipv4Address limited_broadcast() { return Ipv4Address(0xffffffff); }

    static std::optional<Ipv4Address> parse(std::string_view text);
    std::string to_string() const;

    constexpr std::uint32_t host() const { return value_; }
    constexpr be32 wire() const { return be32::from_host(value_); }
    constexpr bool is_any() const { return value_ == 0; }
    constexpr bool is_limited_broadcast() const { return value_ == 0xffffffff; }
    constexpr bool is_multicast() const { return (value_ >> 28) == 0xe; }
    constexpr bool is_loopback() const { return (value_ >> 24) == 127; }
    friend constexpr auto operator<=>(Ipv4Address, Ipv4Address) = default;

  private:
    constexpr explicit Ipv4Address(std::uint32_t v) : value_(v) {}
    std::uint32_t value_ = 0;
};

// An address with its prefix length, as given on the command line ("10.0.0.2/24").
struct Ipv4Interface {
    Ipv4Address address;
    std::uint8_t prefix_length = 32;

    static std::optional<Ipv4Interface> parse(std::string_view text);
    constexpr std::uint32_t netmask() const {
        return prefix_length == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix_length);
    }
    constexpr bool on_link(Ipv4Address other) const {
        return ((other.host() ^ address.host()) & netmask()) == 0;
    }
    constexpr Ipv4Address subnet_broadcast() const {
        return Ipv4Address::from_host(address.host() | ~netmask());
    }
    std::string to_string() const;
};

// An address and a port: one end of a connection ("10.0.0.1:80").
struct Ipv4Endpoint {
    Ipv4Address address;
    std::uint16_t port = 0;

    // "IP:PORT" with a port from 1 to 65535; nothing for anything else.
    static std::optional<Ipv4Endpoint> parse(std::string_view text);
    std::string to_string() const;
    friend constexpr bool operator==(const Ipv4Endpoint&, const Ipv4Endpoint&) = default;
};

}  // namespace sluice::wire

namespace sluice {
// A program's short names for them.
using wire::Ipv4Address;
using wire::Ipv4Endpoint;
using wire::Ipv4Interface;
using wire::MacAddress;
}  // namespace sluice
