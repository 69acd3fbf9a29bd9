// IPv4 output for NetStack: next-hop choice, link address resolution, Ethernet framing.
#include "dataplane/net/net_stack.hpp"

namespace sluice {

void NetStack::send_transport(rte_mbuf* segment, std::uint8_t protocol,
                              wire::Ipv4Address destination) {
    const auto l4_length = segment->pkt_len;
    if (rte_pktmbuf_prepend(segment, wire::Ipv4Header::kMinLength) == nullptr) {
        drop(segment, DropReason::NoHeadroom);
        return;
    }
    wire::Ipv4Header ip;
    ip.total_length = static_cast<std::uint16_t>(wire::Ipv4Header::kMinLength + l4_length);
    ip.protocol = protocol;
    ip.dont_fragment = true;  // RFC 1191: TCP segments are sized to the path, never fragmented
    ip.source = config_.address.address;
    ip.destination = destination;
    write_ipv4_header(segment, ip);
    if (segment->ol_flags & RTE_MBUF_F_TX_TCP_CKSUM) {
        // The device needs to know the packet is IPv4 even when it does not sum the IP header.
        segment->ol_flags |= RTE_MBUF_F_TX_IPV4;
        segment->l3_len = wire::Ipv4Header::kMinLength;
    }
    send_ipv4(segment, destination);
}

void NetStack::send_ipv4(rte_mbuf* packet, wire::Ipv4Address destination) {
    if (is_local_broadcast(destination)) {
        transmit_to(packet, wire::MacAddress::broadcast(), wire::ethertype::kIpv4);
        return;
    }
    wire::Ipv4Address next_hop = destination;
    if (!config_.address.on_link(destination)) {
        if (!config_.gateway) {
            drop(packet, DropReason::NoRoute);
            return;
        }
        next_hop = *config_.gateway;
    }
    const Nanos now = clock_.now();
    if (const wire::MacAddress* mac = neighbors_->lookup(next_hop, now)) {
        transmit_to(packet, *mac, wire::ethertype::kIpv4);
        return;
    }
    switch (neighbors_->hold(next_hop, packet, now)) {
        case NeighborCache::HoldOutcome::QueuedNewEntry:
            send_arp_request(next_hop);
            return;
        case NeighborCache::HoldOutcome::Queued:
            return;
        case NeighborCache::HoldOutcome::QueueFull:
            drop(packet, DropReason::NeighborQueueFull);
            return;
        case NeighborCache::HoldOutcome::TableFull:
            drop(packet, DropReason::NeighborTableFull);
            return;
    }
}

void NetStack::transmit_to(rte_mbuf* packet, const wire::MacAddress& destination,
                           std::uint16_t ethertype) {
    wire::EthernetHeader eth;
    eth.destination = destination;
    eth.source = config_.mac;
    eth.ethertype = ethertype;
    if (config_.vlan_id)
        eth.vlan_tci = *config_.vlan_id;
    const auto length = static_cast<std::uint16_t>(eth.length());
    auto* p = reinterpret_cast<std::byte*>(rte_pktmbuf_prepend(packet, length));
    if (p == nullptr) {
        // Every packet built by the engine reserves RTE_PKTMBUF_HEADROOM; counted, not crashed on.
        drop(packet, DropReason::NoHeadroom);
        return;
    }
    eth.emit({p, length});
    packet->l2_len = length;
    tx_.push(packet);
}

void NetStack::transmit_held(rte_mbuf* packet, const wire::MacAddress& next_hop) {
    transmit_to(packet, next_hop, wire::ethertype::kIpv4);
}

void NetStack::drop_unresolved(rte_mbuf* packet) {
    drop(packet, DropReason::NeighborUnresolved);
}

}  // namespace sluice
