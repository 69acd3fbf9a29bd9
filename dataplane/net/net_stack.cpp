#include "dataplane/net/net_stack.hpp"

#include "dataplane/wire/arp.hpp"

namespace sluice {

Result<std::unique_ptr<NetStack>, std::string> NetStack::create(
    const InterfaceConfig& config, const NeighborConfig& neighbors, ChecksumOffloads offloads,
    rte_mempool* pool, TxBatch& tx, WorkerCounters& counters, const Clock& clock,
    const std::string& name) {
    std::unique_ptr<NetStack> stack(new NetStack(config, offloads, pool, tx, counters, clock));
    auto cache = NeighborCache::create(name + "_nbr", neighbors, *stack);
    if (!cache)
        return Unexpected{cache.error()};
    stack->neighbors_ = std::move(cache.value());
    return stack;
}

NetStack::NetStack(const InterfaceConfig& config, ChecksumOffloads offloads, rte_mempool* pool,
                   TxBatch& tx, WorkerCounters& counters, const Clock& clock)
    : config_(config),
      offloads_(offloads),
      pool_(pool),
      tx_(tx),
      counters_(counters),
      clock_(clock) {}

void NetStack::receive(rte_mbuf* frame, bool from_peer) {
    if (!from_peer) {
        counters_.rx_packets += 1;
        counters_.rx_bytes += frame->pkt_len;
    }

    // Headers are read through spans over the first segment; a frame that arrives in several
    // segments (jumbo frames on small mbufs) is made contiguous or refused.
    if (frame->nb_segs > 1 && rte_pktmbuf_linearize(frame) != 0) {
        drop(frame, DropReason::SegmentedFrame);
        return;
    }
    const std::span<const std::byte> bytes(rte_pktmbuf_mtod(frame, const std::byte*),
                                           frame->data_len);
    const auto eth = wire::EthernetHeader::parse(bytes);
    if (!eth) {
        drop(frame, eth.error());
        return;
    }
    if (eth->destination != config_.mac && !eth->destination.is_broadcast()) {
        drop(frame, DropReason::EthernetNotForUs);
        return;
    }
    // A priority tag (VLAN id 0, IEEE 802.1Q) belongs to the untagged network.
    const std::uint16_t vlan = eth->vlan_id().value_or(0);
    if (vlan != config_.vlan_id.value_or(0)) {
        drop(frame, DropReason::VlanMismatch);
        return;
    }
    switch (eth->ethertype) {
        case wire::ethertype::kArp:
            receive_arp(frame, *eth, from_peer);
            return;
        case wire::ethertype::kIpv4:
            receive_ipv4(frame, *eth);
            return;
        default:
            drop(frame, DropReason::UnsupportedEthertype);
    }
}

void NetStack::announce() {
    announcements_left_ = kAnnouncements;
    next_announcement_ = clock_.now();
    poll_timers();
}

void NetStack::poll_timers() {
    const Nanos now = clock_.now();
    if (announcements_left_ > 0 && now >= next_announcement_) {
        --announcements_left_;
        next_announcement_ = now + kAnnounceInterval;
        send_arp(wire::ArpOperation::Request, wire::MacAddress::broadcast(),
                 config_.address.address, wire::MacAddress::zero());
        counters_.arp_gratuitous_sent += 1;
    }
    if (now >= next_timer_check_) {
        next_timer_check_ = now + kTimerInterval;
        neighbors_->poll(now);
        counters_.neighbor_resolved = neighbors_->counts().resolved;
        counters_.neighbor_expired = neighbors_->counts().expired;
    }
}

}  // namespace sluice
