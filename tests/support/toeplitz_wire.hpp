// A wire that does what a NIC with receive-side scaling does, for testing the engine's RSS-aware
// path exactly where no device lets its key and table be programmed (docs/architecture.md,
// "RSS-aware choice").
//
// The engine's side is a real net_ring ethdev with one rx/tx queue pair per worker. The far side
// is a second net_ring port (a `peer` host). carry() moves frames both ways: everything the
// workers transmit goes to the peer; every frame the peer transmits is spread over the workers'
// rx queues by the Toeplitz hash of its TCP/IPv4 4-tuple under `spread` (key and redirection
// table), as a NIC would, and stamped with the hash in the mbuf (RTE_MBUF_F_RX_RSS_HASH) when
// `stamp_hash` is set. Frames that are not TCP/IPv4 (ARP) go to queue 0, like a NIC's default
// queue.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <rte_ring.h>

#include "dataplane/flow/rss_model.hpp"
#include "tests/support/ring_port.hpp"

namespace sluice::test {

class ToeplitzWire {
  public:
    ToeplitzWire(std::uint16_t queues, const flow::RssModel& spread, bool stamp_hash);
    ~ToeplitzWire();
    ToeplitzWire(const ToeplitzWire&) = delete;
    ToeplitzWire& operator=(const ToeplitzWire&) = delete;

    // The engine's multi-queue port (configured and started) and the peer's single-queue port.
    std::uint16_t engine_port() const { return port_id_; }
    std::uint16_t peer_port() const { return peer_.port_id(); }
    // Moves everything in flight one hop; returns the number of frames moved.
    unsigned carry();
    // Frames delivered to each engine queue so far.
    const std::vector<std::uint64_t>& delivered() const { return delivered_; }

  private:
    const flow::RssModel& spread_;
    bool stamp_hash_;
    std::vector<rte_ring*> rx_;  // [queue]: wire -> engine
    std::vector<rte_ring*> tx_;  // [queue]: engine -> wire
    std::uint16_t port_id_ = 0;
    RingPort peer_;
    std::vector<std::uint64_t> delivered_;
};

}  // namespace sluice::test
