// A worker's connections to the rest of a multi-worker engine, all over single-producer,
// single-consumer rte_rings (docs/architecture.md rule 1: nothing shared, no locks):
//   - its own pool of ephemeral ports, refilled in blocks by the control plane on request;
//   - software steering: a segment for a connection another worker owns goes to that worker;
//   - ARP copies, so that every worker's neighbour cache learns what one of them heard.
// When the NIC's RSS is programmed with a key and table the engine knows (`rss` set), connect()
// only uses ports whose return 4-tuple hashes to this worker's queue, so steering stays idle.
#pragma once

#include <atomic>

#include <cstdint>
#include <optional>
#include <vector>

#include <rte_mempool.h>
#include <rte_ring.h>

#include "dataplane/flow/rss_model.hpp"
#include "dataplane/net/net_stack.hpp"
#include "dataplane/stats/counters.hpp"
#include "dataplane/tcp/local_port_pool.hpp"
#include "dataplane/tcp/port_arrangements.hpp"
#include "dataplane/tcp/tcp_stack.hpp"

namespace sluice {

// Which worker holds a local (address, port) of the ephemeral space; readable from any core.
class PortOwnership {
  public:
    virtual ~PortOwnership() = default;
    // A worker id, or a negative number when no worker holds it.
    virtual int owner_of(wire::Ipv4Address address, std::uint16_t port) const = 0;
};

// Messages on the control rings, one 64-bit word each (no allocation, nothing to free).
namespace control_message {
// worker -> control plane: "my pool is low" (the worker's id in the low bits).
inline constexpr std::uint64_t kRefillRequest = std::uint64_t{1} << 62;
// control plane -> worker: a PortBlock::pack()ed block, or kNoMorePorts when the space is spent.
inline constexpr std::uint64_t kNoMorePorts = std::uint64_t{1} << 61;
// control plane -> worker: a ListenOrder's address (user-space pointers stay below bit 47).
inline constexpr std::uint64_t kListenOrder = std::uint64_t{1} << 60;
// worker -> control plane: a ListenOrder the worker's application asks for (checked first).
inline constexpr std::uint64_t kListenRequest = std::uint64_t{1} << 59;
// worker -> control plane: a PortBlock::pack()ed block whose ports are all free, given back.
inline constexpr std::uint64_t kReturnBlock = std::uint64_t{1} << 58;
}  // namespace control_message

// A listener to install on (or remove from) every worker at run time, after the listen registry
// has accepted it (control/listen_registry.hpp). The control plane passes its address to each
// worker; each worker acts on its own stack and counts itself done. Owned by whoever posted it,
// and kept alive until every worker is done.
//
// A worker's application may ask for one itself (WorkerLinks::request_listen): the order then goes
// to the control plane first, which checks it against the registry; a refusal sets `refused` (an
// errno) and marks every worker done at once.
struct ListenOrder {
    std::uint16_t port = 0;                     // 0 in a request: any free port; then the port
    bool remove = false;                        // unlisten; established connections stay
    std::vector<api::ListenHandler*> handlers;  // [worker], for install
    const char* holder = "application";         // named to whoever clashes with it later
    std::atomic<std::uint16_t> done{0};
    std::atomic<std::uint16_t> failed{0};
    std::atomic<int> refused{0};
};

// Ports travel between the control plane and the workers in blocks of this many.
inline constexpr std::uint16_t kPortBlockSize = 64;

struct WorkerLinksConfig {
    std::uint16_t worker = 0;
    std::uint16_t queue = 0;                         // the rx queue this worker polls
    std::vector<wire::Ipv4Address> local_addresses;  // indexed by PortBlock::address_index
    const flow::RssModel* rss = nullptr;             // null: the device's RSS is not known (steer)
    const PortOwnership* ownership = nullptr;
    std::vector<rte_ring*> to_worker;    // [j]: this worker -> worker j (null at [worker])
    std::vector<rte_ring*> from_worker;  // [j]: worker j -> this worker (null at [worker])
    rte_ring* to_control = nullptr;
    rte_ring* from_control = nullptr;
    rte_mempool* pool = nullptr;        // for ARP copies
    std::size_t port_capacity = 65536;  // the most ports this worker may hold
    // The ephemeral range the control plane lends from (to know a port's block).
    std::uint16_t ephemeral_first = 49152;
    std::uint16_t ephemeral_last = 65535;
};

class WorkerLinks final : public tcp::PortArrangements, public ArpSharing {
  public:
    static constexpr std::uint32_t kProbeLimit = 256;  // pool entries looked at per connect()
    static constexpr std::size_t kLowWater = 64;

    WorkerLinks(WorkerLinksConfig config, WorkerCounters& counters);

    // Wires itself into this worker's stacks.
    void attach(NetStack& net, tcp::TcpStack& tcp);
    // A block of ports joins the pool (at start-up, or from the control plane).
    void add_block(std::uint8_t address_index, std::uint16_t first_port, std::uint16_t count);
    // Once per loop turn: frames from other workers, and messages from the control plane.
    void poll();

    // tcp::PortArrangements
    std::optional<tcp::LocalEndpoint> take_port(std::uint32_t remote_ip,
                                                std::uint16_t remote_port) override;
    void give_back_port(tcp::LocalEndpoint e) override;
    bool steer(rte_mbuf* frame, const flow::FourTuple& tuple) override;
    // ArpSharing
    void share_arp(const rte_mbuf* frame) override;

    const tcp::LocalPortPool& ports() const { return pool_; }
    std::size_t blocks_held() const { return blocks_held_; }

    // From this worker's application: a listener on every worker (handlers[w] for worker w),
    // checked by the control plane's listen registry. Never waits; the answer is in the order
    // (done == workers; refused or failed say how it went), which must live until then. False
    // when the request could not be queued (try again next turn).
    bool request_listen(ListenOrder& order);

  private:
    void request_refill(bool even_above_low_water = false);
    // Blocks: which one a pair belongs to, and giving one back when all its ports are home and
    // the pool has plenty without it.
    std::size_t block_of(const tcp::LocalEndpoint& e) const;
    void maybe_return_block(std::size_t block);
    void carry_out(ListenOrder& order);

    WorkerLinksConfig config_;
    WorkerCounters& counters_;
    tcp::LocalPortPool pool_;
    NetStack* net_ = nullptr;
    tcp::TcpStack* tcp_ = nullptr;
    bool refill_pending_ = false;
    std::size_t blocks_per_address_ = 0;
    std::size_t blocks_held_ = 0;
    std::size_t high_water_ = 0;            // above this many free pairs, full blocks go back
    std::vector<std::uint8_t> block_size_;  // [block]: its ports, 0 when not held
    std::vector<std::uint8_t> block_free_;  // [block]: its ports now in the pool
};

}  // namespace sluice
