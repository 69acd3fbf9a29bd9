// The link and network layers of one worker: classifies received frames (Ethernet, ARP, IPv4,
// ICMP), answers ARP and echo requests, and sends IPv4 packets to their next hop, resolving it with
// the neighbor cache. Upper layers hand it IP packets through send_ipv4().
//
// Not thread-safe: one instance per worker. It never allocates after construction; frames come
// from and return to the worker's mempool.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <sluice/addresses.hpp>
#include "dataplane/buffers/tx_batch.hpp"
#include "dataplane/net/neighbor_cache.hpp"
#include "dataplane/net/tcp_checksums.hpp"
#include "dataplane/net/transport.hpp"
#include "dataplane/stats/counters.hpp"
#include "dataplane/timers/clock.hpp"
#include "dataplane/wire/arp.hpp"
#include "dataplane/wire/ethernet.hpp"
#include "dataplane/wire/ipv4.hpp"

namespace sluice {

struct InterfaceConfig {
    wire::MacAddress mac;
    wire::Ipv4Interface address;
    std::optional<wire::Ipv4Address> gateway;
    std::optional<std::uint16_t> vlan_id;  // frames are sent and accepted with this tag only
};

// With several workers, ARP answers reach only one of them: it passes a copy of each ARP frame it
// learned from to the others, which learn from it without answering.
class ArpSharing {
  public:
    virtual ~ArpSharing() = default;
    // Does not take `frame`: the callee copies what it keeps.
    virtual void share_arp(const rte_mbuf* frame) = 0;
};

class NetStack final : public TransportSender, private NeighborEvents {
  public:
    // How often the neighbor cache's timers are looked at.
    static constexpr Nanos kTimerInterval = std::chrono::milliseconds(50);
    // RFC 5227 2.3: two announcements, two seconds apart.
    static constexpr int kAnnouncements = 2;
    static constexpr Nanos kAnnounceInterval = std::chrono::seconds(2);

    static Result<std::unique_ptr<NetStack>, std::string> create(
        const InterfaceConfig& config, const NeighborConfig& neighbors, ChecksumOffloads offloads,
        rte_mempool* pool, TxBatch& tx, WorkerCounters& counters, const Clock& clock,
        const std::string& name);

    // Takes ownership of a received frame (data starts at the Ethernet header). `from_peer`: the
    // frame came from another worker (steered, or an ARP copy to learn from), not from the wire.
    void receive(rte_mbuf* frame, bool from_peer = false);
    void set_arp_sharing(ArpSharing* sharing) { arp_sharing_ = sharing; }

    // Takes ownership of an IPv4 packet whose data starts at its (already written) IP header and
    // which has headroom for the link header, and sends it towards `destination`.
    void send_ipv4(rte_mbuf* packet, wire::Ipv4Address destination);

    // TransportSender (transport.hpp): writes the IPv4 header and sends the segment on.
    void send_transport(rte_mbuf* segment, std::uint8_t protocol,
                        wire::Ipv4Address destination) override;
    // What the transport above is told of this layer (TcpStack::create).
    TransportLink transport_link() {
        return TransportLink{this, config_.address.address, mtu_, offloads_};
    }

    void set_transport(TransportReceiver* tcp) { tcp_ = tcp; }
    const ChecksumOffloads& offloads() const { return offloads_; }
    std::uint16_t mtu() const { return mtu_; }
    void set_mtu(std::uint16_t mtu) { mtu_ = mtu; }

    // Starts the gratuitous ARP announcements; the rest follow from poll_timers().
    void announce();

    // Timer work: neighbor retries and expiry, pending announcements. Cheap to call every loop.
    void poll_timers();

    const InterfaceConfig& config() const { return config_; }
    const NeighborCache& neighbors() const { return *neighbors_; }
    // Sends on some of the packets that waited for an address now resolved (NeighborCache).
    void release_resolved() { neighbors_->release_resolved(); }

  private:
    NetStack(const InterfaceConfig& config, ChecksumOffloads offloads, rte_mempool* pool,
             TxBatch& tx, WorkerCounters& counters, const Clock& clock);

    // arp_handling.cpp
    void receive_arp(rte_mbuf* frame, const wire::EthernetHeader& eth, bool from_peer);
    void send_arp(wire::ArpOperation op, const wire::MacAddress& eth_destination,
                  wire::Ipv4Address target_ip, const wire::MacAddress& target_mac);
    void send_arp_request(wire::Ipv4Address target) override;

    // ipv4_input.cpp
    void receive_ipv4(rte_mbuf* frame, const wire::EthernetHeader& eth);
    void receive_icmp(rte_mbuf* packet, const wire::Ipv4Header& ip, bool to_broadcast);

    // ipv4_output.cpp
    void transmit_held(rte_mbuf* packet, const wire::MacAddress& next_hop) override;
    void drop_unresolved(rte_mbuf* packet) override;
    void transmit_to(rte_mbuf* packet, const wire::MacAddress& destination,
                     std::uint16_t ethertype);
    // Gives `header` the next identification and writes it at the packet's start.
    void write_ipv4_header(rte_mbuf* packet, wire::Ipv4Header& header);
    bool is_local_broadcast(wire::Ipv4Address a) const;

    void drop(rte_mbuf* m, DropReason reason) {
        counters_.drop(reason);
        rte_pktmbuf_free(m);
    }

    InterfaceConfig config_;
    ChecksumOffloads offloads_;
    rte_mempool* pool_;
    TxBatch& tx_;
    WorkerCounters& counters_;
    const Clock& clock_;
    std::unique_ptr<NeighborCache> neighbors_;
    Nanos next_timer_check_{0};
    int announcements_left_ = 0;
    Nanos next_announcement_{0};
    std::uint16_t next_ip_id_ = 0;
    std::uint16_t mtu_ = 1500;
    TransportReceiver* tcp_ = nullptr;
    ArpSharing* arp_sharing_ = nullptr;
};

inline void NetStack::write_ipv4_header(rte_mbuf* packet, wire::Ipv4Header& header) {
    // Inline, and in place rather than on a copy: a header the caller has just built field by
    // field, read back from memory (copied whole, or summed), waits for those narrow stores to
    // drain (a store-forwarding stall, 6% of a bulk sender's time). Inlined, it stays in
    // registers.
    header.identification = next_ip_id_++;
    const bool device_sums = offloads_.tx_ipv4;
    header.emit(
        {rte_pktmbuf_mtod(packet, std::byte*), wire::Ipv4Header::kMinLength},
        device_sums ? wire::HeaderChecksum::VerifiedByDevice : wire::HeaderChecksum::Verify);
    if (device_sums) {
        packet->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
        packet->l3_len = wire::Ipv4Header::kMinLength;
    }
}

}  // namespace sluice
