#include "tests/support/frame_builder.hpp"

#include "dataplane/wire/checksum.hpp"
#include "dataplane/wire/icmp.hpp"

namespace sluice::test {

std::vector<std::byte> echo_request_frame(const EchoSpec& spec) {
    wire::EthernetHeader eth;
    eth.destination = spec.eth_destination;
    eth.source = spec.eth_source;
    eth.vlan_tci = spec.vlan_tci;
    eth.ethertype = wire::ethertype::kIpv4;

    const std::size_t ip_length = wire::Ipv4Header::kMinLength + spec.ip_option_bytes;
    const std::size_t icmp_length = wire::IcmpHeader::kLength + spec.payload.size();
    std::vector<std::byte> frame(eth.length() + ip_length + icmp_length);
    eth.emit(frame);

    wire::Ipv4Header ip;
    ip.total_length = static_cast<std::uint16_t>(ip_length + icmp_length);
    ip.protocol = wire::ip_protocol::kIcmp;
    ip.source = spec.ip_source;
    ip.destination = spec.ip_destination;
    ip.ttl = spec.ttl;
    ip.type_of_service = spec.type_of_service;
    ip.more_fragments = spec.more_fragments;
    std::byte* ip_bytes = frame.data() + eth.length();
    ip.emit({ip_bytes, wire::Ipv4Header::kMinLength});
    if (spec.ip_option_bytes > 0) {
        // Rewrite IHL, fill options with NOP (1), and recompute the checksum over the whole header.
        ip_bytes[0] = std::byte{static_cast<std::uint8_t>(0x40 | ip_length / 4)};
        for (std::size_t i = wire::Ipv4Header::kMinLength; i < ip_length; ++i)
            ip_bytes[i] = std::byte{1};
        wire::store_be16(ip_bytes + 10, wire::be16{});
        wire::store_be16(ip_bytes + 10, wire::internet_checksum({ip_bytes, ip_length}));
    }

    std::byte* icmp_bytes = ip_bytes + ip_length;
    std::copy(spec.payload.begin(), spec.payload.end(), icmp_bytes + wire::IcmpHeader::kLength);
    wire::IcmpHeader icmp;
    icmp.type = wire::icmp_type::kEchoRequest;
    icmp.identifier = spec.identifier;
    icmp.sequence = spec.sequence;
    icmp.emit({icmp_bytes, icmp_length});
    return frame;
}

std::vector<std::byte> arp_frame(const wire::EthernetHeader& eth, const wire::ArpPacket& arp) {
    std::vector<std::byte> frame(eth.length() + wire::ArpPacket::kLength);
    eth.emit(frame);
    arp.emit({frame.data() + eth.length(), wire::ArpPacket::kLength});
    return frame;
}

std::vector<std::byte> tcp_frame(const wire::EthernetHeader& eth, wire::Ipv4Address source,
                                 wire::Ipv4Address destination, const wire::TcpHeader& th,
                                 std::span<const std::byte> payload) {
    const std::size_t tcp_length = wire::TcpHeader::kMinLength + th.options.encoded_length();
    const std::size_t ip_offset = eth.length();
    const std::size_t tcp_offset = ip_offset + wire::Ipv4Header::kMinLength;
    std::vector<std::byte> frame(tcp_offset + tcp_length + payload.size());
    eth.emit(frame);
    wire::Ipv4Header ip;
    ip.total_length = static_cast<std::uint16_t>(frame.size() - ip_offset);
    ip.protocol = wire::ip_protocol::kTcp;
    ip.source = source;
    ip.destination = destination;
    ip.emit({frame.data() + ip_offset, wire::Ipv4Header::kMinLength});
    const std::span<std::byte> segment(frame.data() + tcp_offset, tcp_length + payload.size());
    th.emit(segment);
    std::copy(payload.begin(), payload.end(),
              segment.begin() + static_cast<std::ptrdiff_t>(tcp_length));
    wire::store_be16(segment.data() + wire::kTcpChecksumOffset,
                     wire::tcp_checksum(source, destination, segment));
    return frame;
}

}  // namespace sluice::test
