// The connections that owe a delayed ACK (RFC 9293 3.8.6.3), in the order they started owing it.
//
// Every delayed ACK waits the same time, so deadlines come out of a FIFO already sorted: a ring of
// (slot, generation, deadline) needs no timer entry in the TCB (24 bytes each, times ten million
// connections) and touches no other TCB's cache line to arm or cancel. An ACK sent early, for the
// two-segment rule or with data, leaves its entry in the ring; the entry then finds nothing owed
// and does nothing. A connection keeps at most one entry (Tcb::ack_queued), so an ACK owed again
// before the old entry expires is sent when that entry expires: sooner than the delay, never later.
//
// The ring is bounded. When it is full the caller ACKs at once, which is always allowed.
//
// Not thread-safe: one per worker.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

#include "dataplane/timers/clock.hpp"

namespace sluice::tcp {

class DelayedAckQueue {
  public:
    struct Entry {
        std::uint32_t slot = 0;
        std::uint32_t generation = 0;
        Nanos deadline{0};
    };

    // Room for `capacity` waiting connections, rounded up to a power of two.
    explicit DelayedAckQueue(std::uint32_t capacity)
        : ring_(std::bit_ceil(std::max<std::uint32_t>(capacity, 2))),
          mask_(static_cast<std::uint32_t>(ring_.size() - 1)) {}

    // False when full.
    bool push(const Entry& e) {
        if (tail_ - head_ == ring_.size())
            return false;
        ring_[tail_++ & mask_] = e;
        return true;
    }
    // Takes every entry due at `now`, oldest first; `on_due(entry)` may push more.
    template <typename OnDue>
    void expire(Nanos now, OnDue&& on_due) {
        while (head_ != tail_ && ring_[head_ & mask_].deadline <= now) {
            const Entry e = ring_[head_++ & mask_];
            on_due(e);
        }
    }
    std::uint32_t size() const { return tail_ - head_; }
    std::size_t memory_bytes() const { return ring_.size() * sizeof(Entry); }

  private:
    std::vector<Entry> ring_;
    std::uint32_t mask_;
    std::uint32_t head_ = 0;  // free-running; the difference is the size
    std::uint32_t tail_ = 0;
};

}  // namespace sluice::tcp
