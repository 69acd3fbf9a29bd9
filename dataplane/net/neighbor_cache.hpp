// The ARP cache of one worker (RFC 826, with RFC 1122 2.3.2.1-2 for timeouts and flooding, and
// 2.3.2.2 for the queue of packets awaiting resolution). Capacity, the packets held and the
// number of requests are all bounded and fixed at start-up; every bound that is hit is counted by
// the caller.
//
// Packets awaiting resolution share one pool per worker rather than a few slots per address: a
// program that opens ten thousand connections in one loop turn holds ten thousand SYNs behind one
// ARP request to the gateway, and none may be lost (each loss costs its connection a 1 s
// retransmission). Once the answer comes they leave a few per loop turn, and only in turns whose
// receive queue was drained (the worker decides), so that the answers they draw (SYN-ACKs, then
// the data of short exchanges) find room in the receive ring rather than arriving all at once.
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
    // Packets held while their next hop resolves, all addresses together.
    std::uint32_t held_capacity = 16384;
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
    // Held packets handed on per call once their address resolves. Each may draw four frames
    // back (a SYN: SYN-ACK, ACK, data, FIN), so a quarter of a 32-frame receive burst.
    static constexpr std::uint32_t kReleasedPerTurn = 8;

    enum class HoldOutcome : std::uint8_t {
        QueuedNewEntry,  // first packet for the address: the caller sends a request now
        Queued,          // a request is already outstanding
        QueueFull,       // the pool of held packets is full: the packet was not taken
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

    // Hands on up to kReleasedPerTurn packets whose address has resolved; called once a turn.
    void release_resolved() {
        if (ready_.head != kNone)
            release_ready(kReleasedPerTurn);
    }

    std::size_t size() const { return used_; }
    // Packets held now: waiting for an answer, or answered and waiting for their turn.
    std::uint32_t held() const { return held_count_; }

    struct Counts {
        std::uint64_t expired = 0;
        std::uint64_t resolved = 0;
    };
    const Counts& counts() const { return counts_; }

  private:
    static constexpr std::uint32_t kNone = UINT32_MAX;
    // A list of held packets, threaded through the pool by index.
    struct HeldList {
        std::uint32_t head = kNone;
        std::uint32_t tail = kNone;
    };
    struct Held {
        rte_mbuf* packet = nullptr;
        std::uint32_t next = kNone;
        wire::MacAddress next_hop;  // set when the address resolves
    };
    enum class State : std::uint8_t { Free, Incomplete, Reachable };
    struct Entry {
        wire::Ipv4Address ip;
        wire::MacAddress mac;
        State state = State::Free;
        std::uint8_t requests_sent = 0;
        Nanos deadline{0};  // Incomplete: next request; Reachable: end of freshness
        HeldList held;      // Incomplete: what waits for the answer, in order
    };

    NeighborCache(rte_hash* index, const NeighborConfig& config, NeighborEvents& events);
    Entry* find(wire::Ipv4Address ip) const;
    Entry* insert(wire::Ipv4Address ip);
    void remove(Entry& entry);
    // The entry's held packets: dropped, or moved (in order) to the ready list.
    void release_held(Entry& entry, bool transmit);
    void release_ready(std::uint32_t budget);
    void drop_list(HeldList& list);
    // Returns pool slot `i` (its packet already passed on) to the free list.
    void give_back(std::uint32_t i);

    rte_hash* index_;
    NeighborConfig config_;
    NeighborEvents& events_;
    std::vector<Entry> entries_;  // indexed by the key's position in index_
    std::size_t used_ = 0;
    std::vector<Held> pool_;  // held_capacity slots, allocated once
    std::uint32_t free_ = kNone;
    std::uint32_t held_count_ = 0;
    HeldList ready_;  // resolved, waiting for their turn to leave
    Counts counts_;
    mutable const Entry* last_found_ = nullptr;  // what lookup() found last; see lookup()
};

}  // namespace sluice
