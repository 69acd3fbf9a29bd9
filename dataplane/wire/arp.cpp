#include "dataplane/wire/arp.hpp"

#include <cassert>

#include <sluice/byte_order.hpp>
#include "dataplane/wire/ethernet.hpp"

namespace sluice::wire {

namespace {
constexpr std::uint16_t kHardwareEthernet = 1;
constexpr std::uint8_t kMacLength = 6;
constexpr std::uint8_t kIpv4Length = 4;
}  // namespace

Result<ArpPacket, DropReason> ArpPacket::parse(std::span<const std::byte> bytes) {
    if (bytes.size() < kLength)
        return Unexpected{DropReason::ArpTruncated};
    const std::byte* p = bytes.data();
    if (load_be16(p).host() != kHardwareEthernet || load_be16(p + 2).host() != ethertype::kIpv4 ||
        std::to_integer<std::uint8_t>(p[4]) != kMacLength ||
        std::to_integer<std::uint8_t>(p[5]) != kIpv4Length) {
        return Unexpected{DropReason::ArpUnsupportedFormat};
    }
    const std::uint16_t op = load_be16(p + 6).host();
    if (op != static_cast<std::uint16_t>(ArpOperation::Request) &&
        op != static_cast<std::uint16_t>(ArpOperation::Reply)) {
        return Unexpected{DropReason::ArpUnsupportedOperation};
    }
    ArpPacket a;
    a.operation = static_cast<ArpOperation>(op);
    a.sender_mac = MacAddress::load(p + 8);
    a.sender_ip = Ipv4Address::from_wire(load_be32(p + 14));
    a.target_mac = MacAddress::load(p + 18);
    a.target_ip = Ipv4Address::from_wire(load_be32(p + 24));
    return a;
}

void ArpPacket::emit(std::span<std::byte> out) const {
    assert(out.size() >= kLength);
    std::byte* p = out.data();
    store_be16(p, be16::from_host(kHardwareEthernet));
    store_be16(p + 2, be16::from_host(ethertype::kIpv4));
    p[4] = std::byte{kMacLength};
    p[5] = std::byte{kIpv4Length};
    store_be16(p + 6, be16::from_host(static_cast<std::uint16_t>(operation)));
    sender_mac.store(p + 8);
    store_be32(p + 14, sender_ip.wire());
    target_mac.store(p + 18);
    store_be32(p + 24, target_ip.wire());
}

}  // namespace sluice::wire
