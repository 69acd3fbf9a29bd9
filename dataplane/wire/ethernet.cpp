#include "dataplane/wire/ethernet.hpp"

#include <cassert>

#include <sluice/byte_order.hpp>

namespace sluice::wire {

Result<EthernetHeader, DropReason> EthernetHeader::parse(std::span<const std::byte> frame) {
    // Built where the caller receives it, and every return is `result` so that the compiler
    // elides the copy: a header assembled on the stack and copied out whole waited for its
    // field-by-field stores (a store-forwarding stall on every frame; bench/micro segment_path).
    Result<EthernetHeader, DropReason> result{std::in_place};
    if (frame.size() < kUntaggedLength) {
        result = Unexpected{DropReason::EthernetTruncated};
        return result;
    }
    EthernetHeader& h = result.value();
    h.destination = MacAddress::load(frame.data());
    h.source = MacAddress::load(frame.data() + 6);
    h.ethertype = load_be16(frame.data() + 12).host();
    if (h.ethertype == ethertype::kVlan) {
        if (frame.size() < kUntaggedLength + kTagLength) {
            result = Unexpected{DropReason::EthernetTruncated};
            return result;
        }
        h.vlan_tci = load_be16(frame.data() + 14).host();
        h.ethertype = load_be16(frame.data() + 16).host();
    }
    return result;
}

void EthernetHeader::emit(std::span<std::byte> out) const {
    assert(out.size() >= length());
    destination.store(out.data());
    source.store(out.data() + 6);
    std::byte* p = out.data() + 12;
    if (vlan_tci) {
        store_be16(p, be16::from_host(ethertype::kVlan));
        store_be16(p + 2, be16::from_host(*vlan_tci));
        p += kTagLength;
    }
    store_be16(p, be16::from_host(ethertype));
}

}  // namespace sluice::wire
