// The control plane (docs/architecture.md): owns the ephemeral port space and answers the workers'
// refill requests. It talks to workers only through single-producer, single-consumer rte_rings, one
// pair per worker, and never makes a worker wait: a worker asks, goes on polling, and finds the
// answer on its ring a turn or two later. Runs wherever the engine's control loop runs (the main
// lcore, or a plain thread when every lcore polls a queue).
#pragma once

#include <mutex>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <rte_ring.h>

#include <sluice/result.hpp>
#include "control/listen_registry.hpp"
#include "control/ports/ephemeral_ports.hpp"
#include "dataplane/multicore/worker_links.hpp"

namespace sluice::control {

class ControlPlane final : public PortOwnership {
  public:
    static Result<std::unique_ptr<ControlPlane>, std::string> create(
        std::uint16_t workers, std::vector<wire::Ipv4Address> addresses, std::uint16_t first_port,
        std::uint16_t last_port);
    ~ControlPlane() override;
    ControlPlane(const ControlPlane&) = delete;
    ControlPlane& operator=(const ControlPlane&) = delete;

    // The rings between worker w and the control plane, and between workers.
    rte_ring* to_control(std::uint16_t w) const { return to_control_[w]; }
    rte_ring* from_control(std::uint16_t w) const { return from_control_[w]; }
    rte_ring* between(std::uint16_t from, std::uint16_t to) const {
        return from == to ? nullptr : mesh_[from * workers_ + to];
    }

    // Lends `blocks` blocks to worker w directly: for the start, before any worker runs.
    std::vector<PortBlock> lend_now(std::uint16_t w, std::size_t blocks);
    // Answers pending requests and passes on posted listen orders. Cheap when there are none.
    void poll();
    // From any thread: `order` goes to every worker on the control loop's next turn. The caller
    // keeps it alive until order->done reaches the number of workers.
    void post(ListenOrder* order);
    // Where listen requests from workers are checked; set before the workers run.
    void set_listen_registry(ListenRegistry* registry) { registry_ = registry; }

    int owner_of(wire::Ipv4Address address, std::uint16_t port) const override {
        return ports_.owner_of(address, port);
    }
    const EphemeralPortAllocator& ports() const { return ports_; }
    std::uint64_t refills_answered() const { return refills_; }
    std::uint64_t refills_refused() const { return refused_; }

    // The port space as it is now, for telemetry (another thread than the control loop's).
    struct PortSpaceReport {
        std::uint16_t first_port = 0;
        std::uint16_t last_port = 0;
        std::vector<wire::Ipv4Address> addresses;
        std::size_t block_size = 0;
        std::size_t blocks_total = 0;
        std::size_t blocks_lent = 0;
        std::vector<std::size_t> blocks_by_worker;
        std::uint64_t refills_answered = 0;
        std::uint64_t refills_refused = 0;
        std::uint64_t blocks_returned = 0;
    };
    PortSpaceReport port_report() const;

  private:
    void check_request(ListenOrder& order);
    void forward_orders();

    ControlPlane(std::uint16_t workers, std::vector<wire::Ipv4Address> addresses,
                 std::uint16_t first, std::uint16_t last)
        : workers_(workers), ports_(std::move(addresses), first, last) {}

    std::uint16_t workers_;
    EphemeralPortAllocator ports_;
    std::vector<rte_ring*> to_control_;
    std::vector<rte_ring*> from_control_;
    std::vector<rte_ring*> mesh_;  // [from * workers + to]
    // Held by the control loop while it lends and by port_report(); never by a worker.
    mutable std::mutex mutex_;
    std::uint64_t refills_ = 0;
    std::uint64_t refused_ = 0;
    std::uint64_t returned_ = 0;
    // Orders not yet on every worker's ring, and how many workers each has reached.
    std::vector<std::pair<ListenOrder*, std::uint16_t>> orders_;
    ListenRegistry* registry_ = nullptr;
};

}  // namespace sluice::control
