// IPv4 and ICMP input for NetStack (RFC 791, RFC 1122 3.2.1 and 3.2.2, RFC 792).
#include "dataplane/net/net_stack.hpp"
#include "dataplane/wire/icmp.hpp"

namespace sluice {

namespace {

wire::HeaderChecksum header_checksum_check(const rte_mbuf* m, bool offloaded) {
    if (offloaded && (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD) {
        return wire::HeaderChecksum::VerifiedByDevice;
    }
    // Unknown, bad (the parser will confirm and count it), or no offload: sum it ourselves.
    return wire::HeaderChecksum::Verify;
}

}  // namespace

bool NetStack::is_local_broadcast(wire::Ipv4Address a) const {
    return a.is_limited_broadcast() ||
           (config_.address.prefix_length < 31 && a == config_.address.subnet_broadcast());
}

void NetStack::receive_ipv4(rte_mbuf* frame, const wire::EthernetHeader& eth) {
    // Header lengths stay on the mbuf, so that a segment for another worker can be handed over
    // whole (TcpStack's steering) after the headers have been stripped.
    frame->l2_len = static_cast<std::uint16_t>(eth.length()) & 0x7f;
    rte_pktmbuf_adj(frame, static_cast<std::uint16_t>(eth.length()));
    const std::span<const std::byte> bytes(rte_pktmbuf_mtod(frame, const std::byte*),
                                           frame->data_len);
    const auto ip = wire::Ipv4Header::parse(bytes, header_checksum_check(frame, offloads_.rx_ipv4));
    if (!ip) {
        drop(frame, ip.error());
        return;
    }
    // RFC 1122 3.2.1.3: silently discard datagrams from a source that cannot be a single host.
    if (ip->source.is_multicast() || ip->source.is_limited_broadcast() ||
        ip->source.is_loopback() || is_local_broadcast(ip->source)) {
        drop(frame, DropReason::Ipv4BadSource);
        return;
    }
    const bool to_broadcast = is_local_broadcast(ip->destination);
    if (ip->destination != config_.address.address && !to_broadcast) {
        drop(frame, DropReason::Ipv4NotForUs);
        return;
    }
    // Reassembly is not supported yet (RFC 1122 3.3.2 makes it a MUST; see README).
    if (ip->is_fragment()) {
        drop(frame, DropReason::Ipv4Fragment);
        return;
    }
    if (ip->header_length > wire::Ipv4Header::kMinLength)
        counters_.ipv4_options_skipped += 1;
    // Link padding after the datagram is not part of it.
    rte_pktmbuf_trim(frame, static_cast<std::uint16_t>(frame->pkt_len - ip->total_length));

    switch (ip->protocol) {
        case wire::ip_protocol::kIcmp:
            receive_icmp(frame, *ip, to_broadcast);
            return;
        case wire::ip_protocol::kTcp:
            if (tcp_ == nullptr)
                break;
            // RFC 1122 4.2.3.10: TCP is never addressed to a broadcast.
            if (to_broadcast) {
                drop(frame, DropReason::TcpToBroadcast);
                return;
            }
            frame->l3_len = ip->header_length & 0x1ff;
            rte_pktmbuf_adj(frame, ip->header_length);
            tcp_->receive(frame, *ip);
            return;
        default:
            break;
    }
    drop(frame, DropReason::Ipv4UnsupportedProtocol);
}

void NetStack::receive_icmp(rte_mbuf* packet, const wire::Ipv4Header& ip, bool to_broadcast) {
    rte_pktmbuf_adj(packet, ip.header_length);  // options, if any, are not echoed
    const std::span<std::byte> message(rte_pktmbuf_mtod(packet, std::byte*), packet->data_len);
    const auto icmp = wire::IcmpHeader::parse(message);
    if (!icmp) {
        drop(packet, icmp.error());
        return;
    }
    if (!icmp->is_echo_request()) {
        drop(packet, DropReason::IcmpUnsupportedType);
        return;
    }
    counters_.icmp_echo_requests += 1;
    // RFC 1122 3.2.2.6 lets a host ignore echo requests to a broadcast address; Linux does too.
    if (to_broadcast) {
        drop(packet, DropReason::IcmpEchoToBroadcast);
        return;
    }
    wire::turn_echo_request_into_reply(message);

    wire::Ipv4Header reply;
    reply.type_of_service = ip.type_of_service;  // RFC 1122 3.2.2.6
    reply.total_length = static_cast<std::uint16_t>(wire::Ipv4Header::kMinLength + message.size());
    reply.protocol = wire::ip_protocol::kIcmp;
    reply.source = config_.address.address;
    reply.destination = ip.source;
    rte_pktmbuf_prepend(packet, wire::Ipv4Header::kMinLength);
    write_ipv4_header(packet, reply);
    counters_.icmp_echo_replies_sent += 1;
    send_ipv4(packet, ip.source);
}

}  // namespace sluice
