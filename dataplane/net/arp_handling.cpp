// ARP input and output for NetStack (RFC 826 "Packet Reception", RFC 5227 for announcements).
#include "dataplane/net/net_stack.hpp"
#include "dataplane/wire/arp.hpp"

namespace sluice {

void NetStack::receive_arp(rte_mbuf* frame, const wire::EthernetHeader& eth, bool from_peer) {
    auto* bytes = rte_pktmbuf_mtod_offset(frame, std::byte*, eth.length());
    const std::span<std::byte> body(bytes, frame->data_len - eth.length());
    const auto arp = wire::ArpPacket::parse(body);
    if (!arp) {
        drop(frame, arp.error());
        return;
    }
    if (from_peer) {
        // Another worker's copy, already checked and counted there: learn, never answer.
        if (!arp->sender_ip.is_any()) {
            neighbors_->learn(arp->sender_ip, arp->sender_mac, clock_.now(),
                              /*create=*/arp->target_ip == config_.address.address);
        }
        rte_pktmbuf_free(frame);
        return;
    }
    if (arp->operation == wire::ArpOperation::Request) {
        counters_.arp_requests_received += 1;
    } else {
        counters_.arp_replies_received += 1;
    }
    // A sender that claims a group or broadcast address, or our own, is lying or misconfigured;
    // believing it would poison the cache.
    if (arp->sender_mac.is_multicast() || arp->sender_ip.is_multicast() ||
        arp->sender_ip.is_limited_broadcast() || arp->sender_ip == config_.address.address ||
        arp->sender_mac == config_.mac) {
        drop(frame, DropReason::ArpBadSender);
        return;
    }

    const bool for_us = arp->target_ip == config_.address.address;
    // RFC 826: merge the sender into an existing entry whatever the target; add it only when the
    // packet is for us. An ARP probe (sender 0.0.0.0, RFC 5227 2.1.1) teaches nothing.
    if (!arp->sender_ip.is_any()) {
        neighbors_->learn(arp->sender_ip, arp->sender_mac, clock_.now(), /*create=*/for_us);
        if (arp_sharing_ != nullptr)
            arp_sharing_->share_arp(frame);
    }
    if (!for_us) {
        drop(frame, DropReason::ArpNotForUs);
        return;
    }
    if (arp->operation != wire::ArpOperation::Request) {
        rte_pktmbuf_free(frame);  // a reply to us: learned above
        return;
    }

    // Answer in place: the request's buffer becomes the reply, tag and all.
    wire::ArpPacket reply = *arp;
    reply.operation = wire::ArpOperation::Reply;
    reply.target_mac = arp->sender_mac;
    reply.target_ip = arp->sender_ip;
    reply.sender_mac = config_.mac;
    reply.sender_ip = config_.address.address;
    reply.emit(body);
    wire::EthernetHeader reply_eth = eth;
    reply_eth.destination = arp->sender_mac;
    reply_eth.source = config_.mac;
    reply_eth.emit({rte_pktmbuf_mtod(frame, std::byte*), eth.length()});
    // Drop link padding beyond the ARP body; the device pads short frames itself.
    rte_pktmbuf_trim(frame, static_cast<std::uint16_t>(body.size() - wire::ArpPacket::kLength));
    counters_.arp_replies_sent += 1;
    tx_.push(frame);
}

void NetStack::send_arp(wire::ArpOperation op, const wire::MacAddress& eth_destination,
                        wire::Ipv4Address target_ip, const wire::MacAddress& target_mac) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr) {
        counters_.drop(DropReason::MbufExhausted);
        return;
    }
    wire::EthernetHeader eth;
    eth.destination = eth_destination;
    eth.source = config_.mac;
    eth.ethertype = wire::ethertype::kArp;
    if (config_.vlan_id)
        eth.vlan_tci = *config_.vlan_id;
    const auto length = static_cast<std::uint16_t>(eth.length() + wire::ArpPacket::kLength);
    auto* p = reinterpret_cast<std::byte*>(rte_pktmbuf_append(m, length));
    eth.emit({p, eth.length()});
    wire::ArpPacket arp;
    arp.operation = op;
    arp.sender_mac = config_.mac;
    arp.sender_ip = config_.address.address;
    arp.target_mac = target_mac;
    arp.target_ip = target_ip;
    arp.emit({p + eth.length(), wire::ArpPacket::kLength});
    tx_.push(m);
}

void NetStack::send_arp_request(wire::Ipv4Address target) {
    counters_.arp_requests_sent += 1;
    send_arp(wire::ArpOperation::Request, wire::MacAddress::broadcast(), target,
             wire::MacAddress::zero());
}

}  // namespace sluice
