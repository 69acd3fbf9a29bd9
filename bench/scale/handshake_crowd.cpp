#include "bench/scale/handshake_crowd.hpp"

#include <span>

#include "dataplane/wire/arp.hpp"
#include "dataplane/wire/ethernet.hpp"
#include "dataplane/wire/ipv4.hpp"
#include "dataplane/wire/tcp.hpp"

namespace sluice::bench {

namespace {
constexpr std::size_t kHeaders = 14 + 20 + 20;
}

rte_mbuf* HandshakeCrowd::segment(wire::Ipv4Address source, std::uint16_t source_port,
                                  std::uint32_t seq, std::uint32_t ack, std::uint8_t flags) const {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr)
        return nullptr;
    auto* data = reinterpret_cast<std::byte*>(rte_pktmbuf_append(m, kHeaders));
    const std::span<std::byte> frame(data, kHeaders);
    wire::EthernetHeader eth{config_.engine_mac, config_.gateway_mac, std::nullopt,
                             wire::ethertype::kIpv4};
    eth.emit(frame);
    wire::Ipv4Header ip;
    ip.total_length = 40;
    ip.protocol = wire::ip_protocol::kTcp;
    ip.source = source;
    ip.destination = config_.engine_ip;
    ip.emit(frame.subspan(14, 20));
    wire::TcpHeader th;
    th.source_port = source_port;
    th.destination_port = config_.engine_port;
    th.seq = tcp::SeqNum(seq);
    th.ack = tcp::SeqNum(ack);
    th.flags = flags;
    th.window = 65535;
    const std::span<std::byte> tcp_bytes = frame.subspan(34, 20);
    th.emit(tcp_bytes);
    wire::store_be16(tcp_bytes.data() + wire::kTcpChecksumOffset,
                     wire::tcp_checksum(source, config_.engine_ip, tcp_bytes));
    return m;
}

rte_mbuf* HandshakeCrowd::syn(std::uint32_t i) const {
    const auto source =
        wire::Ipv4Address::from_host((172U << 24 | 16U << 16) + i / kPortsPerAddress);
    const auto port = static_cast<std::uint16_t>(10000 + i % kPortsPerAddress);
    return segment(source, port, kClientIsn, 0, wire::tcp_flag::kSyn);
}

rte_mbuf* HandshakeCrowd::answer(const rte_mbuf* sent) {
    const std::span<const std::byte> frame(rte_pktmbuf_mtod(sent, const std::byte*),
                                           sent->data_len);
    const auto eth = wire::EthernetHeader::parse(frame);
    if (!eth) {
        ++others_;
        return nullptr;
    }
    const auto payload = frame.subspan(eth->length());
    if (eth->ethertype == wire::ethertype::kArp) {
        const auto arp = wire::ArpPacket::parse(payload);
        if (!arp || arp->operation != wire::ArpOperation::Request ||
            arp->target_ip != config_.gateway_ip) {
            ++others_;
            return nullptr;
        }
        rte_mbuf* m = rte_pktmbuf_alloc(pool_);
        if (m == nullptr)
            return nullptr;
        const std::size_t length = 14 + wire::ArpPacket::kLength;
        auto* data = reinterpret_cast<std::byte*>(rte_pktmbuf_append(m, length));
        wire::EthernetHeader reply_eth{arp->sender_mac, config_.gateway_mac, std::nullopt,
                                       wire::ethertype::kArp};
        reply_eth.emit({data, length});
        wire::ArpPacket reply{wire::ArpOperation::Reply, config_.gateway_mac, config_.gateway_ip,
                              arp->sender_mac, arp->sender_ip};
        reply.emit({data + 14, wire::ArpPacket::kLength});
        return m;
    }
    const auto ip = wire::Ipv4Header::parse(payload);
    if (!ip || ip->protocol != wire::ip_protocol::kTcp) {
        ++others_;
        return nullptr;
    }
    const auto th = wire::TcpHeader::parse(payload.subspan(ip->header_length), ip->source,
                                           ip->destination, wire::TransportChecksum::Verify);
    using namespace wire::tcp_flag;
    if (!th || !th->has(kSyn) || !th->has(kAck)) {
        ++others_;
        return nullptr;
    }
    ++synacks_;
    return segment(ip->destination, th->destination_port, kClientIsn + 1, th->seq.raw() + 1, kAck);
}

}  // namespace sluice::bench
