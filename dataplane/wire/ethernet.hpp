// Ethernet II framing with at most one 802.1Q tag. A second tag (QinQ) is not parsed: the frame is
// reported with the outer tag and ethertype 0x8100, which the classifier drops as unsupported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include <sluice/addresses.hpp>
#include <sluice/result.hpp>
#include "dataplane/stats/drop_reason.hpp"

namespace sluice::wire {

namespace ethertype {
inline constexpr std::uint16_t kIpv4 = 0x0800;
inline constexpr std::uint16_t kArp = 0x0806;
inline constexpr std::uint16_t kVlan = 0x8100;
}  // namespace ethertype

struct EthernetHeader {
    static constexpr std::size_t kUntaggedLength = 14;
    static constexpr std::size_t kTagLength = 4;

    MacAddress destination;
    MacAddress source;
    // The 802.1Q tag control information (priority, DEI, 12-bit VLAN id), when the frame is tagged.
    std::optional<std::uint16_t> vlan_tci;
    std::uint16_t ethertype = 0;

    std::size_t length() const { return kUntaggedLength + (vlan_tci ? kTagLength : 0); }
    std::optional<std::uint16_t> vlan_id() const {
        if (!vlan_tci)
            return std::nullopt;
        return static_cast<std::uint16_t>(*vlan_tci & 0x0fff);
    }

    static Result<EthernetHeader, DropReason> parse(std::span<const std::byte> frame);
    // Writes length() bytes at the start of `out`, which must be at least that long.
    void emit(std::span<std::byte> out) const;
};

}  // namespace sluice::wire
