// The ARP cache of one worker (RFC 826, with RFC 1122 2.3.2.1-2 for timeouts and flooding, and
// 2.3.2.2 for the queue of packets awaiting resolution). Capacity, the queue per entry and the
// number of requests are all bounded and fixed at start-up; every bound that is hit is counted by
// the caller.
//
// Not thread-safe: one instance per worker, used only by that worker.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <rte_hash.h>
#include <rte_mbuf.h>

#include <sluice/addresses.hpp>
#include <sluice/result.hpp>
#include "dataplane/timers/clock.hpp"

namespace sluice {

struct NeighborConfig {
    std::uint32_t capacity = 1024;
    // How long an answer is believed; afterwards the next packet to that address asks again.
    Nanos reachable_time = std::chrono::seconds(300);
    // RFC 1122 2.3.2.1: no more than one request per second per address.
    Nanos retry_interval = std::chrono::seconds(1);
    // Requests sent before giving up on an address and dropping what waits for it.
    std::uint8_t max_requests = 3;
};

// What the cache asks of its owner; keeps the cache free of packet building.
class NeighborEvents {
  public:
    virtual ~NeighborEvents() = default;
    virtual void send_arp_request(wire::Ipv4Address target) = 0;
    // A held packet whose next hop is now known; ownership passes to the callee.
    virtual void transmit_held(rte_mbuf* packet, const wire::MacAddress& next_hop) = 0;
    // A held packet that will never be sent (no answer, or evicted); ownership passes to the
    // callee.
    virtual void drop_unresolved(rte_mbuf* packet) = 0;
};

class NeighborCache {
  public:
    static constexpr std::size_t kMaxHeldPerEntry = 8;

    enum class HoldOutcome : std::uint8_t {
        QueuedNewEntry,  // first packet for the address: the caller sends a request now
        Queued,          // a request is already outstanding
        QueueFull,       // the packet was not taken
        TableFull,       // the packet was not taken
    };

    // Allocates everything the cache will ever use; `name` must be unique in the process.
    static Result<std::unique_ptr<NeighborCache>, std::string> create(const std::string& name,
                                                                      const NeighborConfig& config,
                                                                      NeighborEvents& events);
    ~NeighborCache();
    NeighborCache(const NeighborCache&) = delete;
    NeighborCache& operator=(const NeighborCache&) = delete;

    // The link address of `ip` if it is known and still fresh.
    const wire::MacAddress* lookup(wire::Ipv4Address ip, Nanos now) const;

    // RFC 826 merge: refreshes an existing entry; adds one only when `create` (the packet was for
    // us). Packets held for the address are handed to events.transmit_held().
    void learn(wire::Ipv4Address ip, const wire::MacAddress& mac, Nanos now, bool create);

    // Holds `packet` until `ip` resolves. On QueueFull/TableFull the caller still owns the packet.
    HoldOutcome hold(wire::Ipv4Address ip, rte_mbuf* packet, Nanos now);

    // Re-sends due requests, gives up on silent addresses, forgets stale answers.
    void poll(Nanos now);

    std::size_t size() const { return used_; }

    struct Counts {
        std::uint64_t expired = 0;
        std::uint64_t resolved = 0;
    };
    const Counts& counts() const { return counts_; }

  private:
    enum class State : std::uint8_t { Free, Incomplete, Reachable };
    struct Entry {
        wire::Ipv4Address ip;
        wire::MacAddress mac;
        State state = State::Free;
        std::uint8_t requests_sent = 0;
        std::uint8_t held_count = 0;
        Nanos deadline{0};  // Incomplete: next request; Reachable: end of freshness
        std::array<rte_mbuf*, kMaxHeldPerEntry> held{};
    };

    NeighborCache(rte_hash* index, const NeighborConfig& config, NeighborEvents& events);
    Entry* find(wire::Ipv4Address ip) const;
    Entry* insert(wire::Ipv4Address ip);
    void remove(Entry& entry);
    void release_held(Entry& entry, bool transmit);

    rte_hash* index_;
    NeighborConfig config_;
    NeighborEvents& events_;
    std::vector<Entry> entries_;  // indexed by the key's position in index_
    std::size_t used_ = 0;
    Counts counts_;
    mutable const Entry* last_found_ = nullptr;  // what lookup() found last; see lookup()
};

}  // namespace sluice
