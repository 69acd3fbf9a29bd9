#include "dataplane/worker.hpp"

#include <array>

#include <rte_ethdev.h>
#include <rte_prefetch.h>

namespace sluice {

Result<std::unique_ptr<Worker>, std::string> Worker::create(const WorkerConfig& config,
                                                            rte_mempool* pool, const Clock& clock) {
    std::unique_ptr<Worker> worker(new Worker(config, clock));
    auto net =
        NetStack::create(config.interface, config.neighbors, config.offloads, pool, worker->tx_,
                         worker->counters_, worker->clock_, "w" + std::to_string(config.id));
    if (!net)
        return Unexpected{net.error()};
    worker->net_ = std::move(net.value());
    worker->net_->set_mtu(config.mtu);
    auto tcp =
        tcp::TcpStack::create(config.tcp, worker->net_->transport_link(), pool, worker->counters_,
                              worker->clock_, "w" + std::to_string(config.id), config.device_rss);
    if (!tcp)
        return Unexpected{tcp.error()};
    worker->tcp_ = std::move(tcp.value());
    worker->net_->set_transport(worker->tcp_.get());
    return worker;
}

Worker::Worker(const WorkerConfig& config, const Clock& clock)
    : config_(config), clock_(clock), tx_(config.port_id, config.queue_id, counters_) {}

WorkerLinks& Worker::link(WorkerLinksConfig config) {
    links_ = std::make_unique<WorkerLinks>(std::move(config), counters_);
    links_->attach(*net_, *tcp_);
    return *links_;
}

std::uint16_t Worker::poll_once() {
    clock_.tick();
    std::array<rte_mbuf*, kRxBurst> frames;
    const std::uint16_t n =
        rte_eth_rx_burst(config_.port_id, config_.queue_id, frames.data(), kRxBurst);
    // Bring the next frame's headers in while this one is handled (DPDK l3fwd's pattern).
    for (std::uint16_t i = 0; i < n; ++i) {
        if (i + 1 < n)
            rte_prefetch0(rte_pktmbuf_mtod(frames[i + 1], void*));
        net_->receive(frames[i]);
    }
    if (links_ != nullptr)
        links_->poll();
    tcp_->send_burst_acks();
    // Packets held for an address that has resolved leave only while the receive queue keeps
    // up: each may draw several frames back (a SYN: its SYN-ACK, then the data and FIN of a
    // short exchange), and a burst of them must not overrun the ring the answers arrive in.
    if (n < kRxBurst)
        net_->release_resolved();
    if (poller_ != nullptr)
        poller_->poll();
    net_->poll_timers();
    tcp_->poll_timers();
    tx_.flush();
    if (inspection_.asked())
        inspection_.answer(counters_, *tcp_, links_ != nullptr ? &links_->ports() : nullptr);
    return n;
}

void Worker::run(const std::atomic<bool>& stop) {
    IdleBackoff backoff(config_.idle);
    while (!stop.load(std::memory_order_relaxed)) {
        const std::uint64_t sent_before = counters_.tx_packets;
        const std::uint16_t received = poll_once();
        backoff.after_turn(received > 0 || counters_.tx_packets != sent_before, clock_.now());
    }
    idle_sleeps_ = backoff.sleeps();
    tx_.flush();
}

}  // namespace sluice
