// The boundary between the network layer and a transport (TCP): what each asks of the other, and
// nothing more. NetStack is the layer beneath TCP in a worker; a test may put anything that
// implements TransportSender there instead and drive TCP with segments in and segments out
// (tests/support/segment_wire.hpp does, with no port, no Ethernet, no ARP).
#pragma once

#include <cstdint>

#include <rte_mbuf.h>

#include <sluice/addresses.hpp>
#include "dataplane/net/tcp_checksums.hpp"
#include "dataplane/wire/ethernet.hpp"
#include "dataplane/wire/ipv4.hpp"

namespace sluice {

// What the device does for us, as negotiated by drivers/ at start-up, and what the link is
// trusted to do.
struct ChecksumOffloads {
    bool rx_ipv4 = false;  // the device flags bad/good IPv4 header checksums
    bool tx_ipv4 = false;  // the device fills in IPv4 header checksums
    bool rx_tcp = false;   // the device flags bad/good TCP checksums
    bool tx_tcp = false;   // the device fills in TCP checksums from the pseudo-header sum
    TcpChecksums tcp = TcpChecksums::Full;
};

// The most the layer beneath prepends to a transport segment: the IPv4 header and a tagged
// Ethernet header. A transport leaves this much headroom in every segment it sends.
inline constexpr std::uint16_t kTransportHeadroom = wire::Ipv4Header::kMinLength +
                                                    wire::EthernetHeader::kUntaggedLength +
                                                    wire::EthernetHeader::kTagLength;

// The transport, as the layer beneath sees it: receives every segment addressed to us.
class TransportReceiver {
  public:
    virtual ~TransportReceiver() = default;
    // `segment`'s data starts at the transport header; ownership passes to the callee.
    virtual void receive(rte_mbuf* segment, const wire::Ipv4Header& ip) = 0;
};

// The layer beneath, as the transport sees it: where its segments go.
class TransportSender {
  public:
    virtual ~TransportSender() = default;
    // Takes ownership of a transport segment whose data starts at its header, with
    // kTransportHeadroom before it; writes the IP header (and whatever the link needs) and sends
    // it to `destination`. A segment whose TCP checksum the caller left to the device
    // (RTE_MBUF_F_TX_TCP_CKSUM) gets the IPv4 flags that offload needs.
    virtual void send_transport(rte_mbuf* segment, std::uint8_t protocol,
                                wire::Ipv4Address destination) = 0;
};

// What a transport is told of the layer beneath when it is created; fixed for its life.
struct TransportLink {
    TransportSender* sender = nullptr;
    wire::Ipv4Address address;  // ours: the source of everything we send
    std::uint16_t mtu = 1500;   // the largest IP packet the link carries
    ChecksumOffloads offloads;
};

}  // namespace sluice
