// One worker: a poll-mode loop over one rx/tx queue pair. rx burst -> classify and handle ->
// timers -> tx flush. Everything it touches is its own (docs/architecture.md rule 1).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <rte_mempool.h>

#include "dataplane/buffers/tx_batch.hpp"
#include "dataplane/idle_backoff.hpp"
#include "dataplane/multicore/inspection.hpp"
#include "dataplane/multicore/worker_links.hpp"
#include "dataplane/net/net_stack.hpp"
#include "dataplane/stats/counters.hpp"
#include "dataplane/tcp/config.hpp"
#include "dataplane/tcp/tcp_stack.hpp"
#include "dataplane/timers/clock.hpp"

namespace sluice {

struct WorkerConfig {
    std::uint16_t id = 0;
    std::uint16_t port_id = 0;
    std::uint16_t queue_id = 0;
    InterfaceConfig interface;
    NeighborConfig neighbors;
    ChecksumOffloads offloads;
    std::uint16_t mtu = 1500;
    tcp::TcpConfig tcp;
    // The RSS key and table the device was programmed with, if known: the flow table then reuses
    // the NIC's hash (flow/flow_hash.hpp). Must outlive the worker.
    const flow::RssModel* device_rss = nullptr;
    // Spin, or sleep a little when nothing arrives (idle_backoff.hpp).
    IdleMode idle = IdleMode::Poll;
};

// Work an application does on the worker's thread once per loop turn (a client opening its next
// connection, say).
class Poller {
  public:
    virtual ~Poller() = default;
    virtual void poll() = 0;
};

class Worker {
  public:
    static constexpr std::uint16_t kRxBurst = 32;

    static Result<std::unique_ptr<Worker>, std::string> create(const WorkerConfig& config,
                                                               rte_mempool* pool,
                                                               const Clock& clock);

    // One turn of the loop; returns the number of frames received.
    std::uint16_t poll_once();
    // Loops until `stop` becomes true, waiting between quiet turns as config.idle says. The flag
    // is read once per turn, not per packet.
    void run(const std::atomic<bool>& stop);

    // Joins a multi-worker engine (before the worker runs): ports, steering, ARP copies.
    WorkerLinks& link(WorkerLinksConfig config);
    WorkerLinks* links() { return links_.get(); }
    // Before the worker runs; the poller must outlive it.
    void set_poller(Poller* p) { poller_ = p; }

    NetStack& net() { return *net_; }
    tcp::TcpStack& tcp() { return *tcp_; }
    const WorkerCounters& counters() const { return counters_; }
    // Sleeps taken by the adaptive idle mode.
    std::uint64_t idle_sleeps() const { return idle_sleeps_; }
    // The time of the current loop turn.
    const Clock& clock() const { return clock_; }
    std::uint16_t id() const { return config_.id; }
    // For other threads: a consistent snapshot of this worker, taken between two loop turns.
    InspectionMailbox& inspection() { return inspection_; }

  private:
    Worker(const WorkerConfig& config, const Clock& clock);

    WorkerConfig config_;
    TurnClock clock_;  // what the worker's stacks read: the source clock, once per turn
    WorkerCounters counters_;
    TxBatch tx_;
    std::unique_ptr<NetStack> net_;
    std::unique_ptr<tcp::TcpStack> tcp_;
    std::unique_ptr<WorkerLinks> links_;
    Poller* poller_ = nullptr;
    std::uint64_t idle_sleeps_ = 0;
    InspectionMailbox inspection_;
};

}  // namespace sluice
