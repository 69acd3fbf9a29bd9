// One direction of an impaired link, independent of any device: frames go in with offer(), come
// out of poll() when their time has come, and in between are lost, duplicated, corrupted, delayed,
// reordered and rate-limited as a FaultProfile (fault_profile.hpp) says. This kernel has no netem
// (docs/architecture.md), so this is how the engine, and a Linux peer through sluice-faultbridge,
// meet a bad network.
//
// Reproducible: every decision comes from a PRNG seeded by the profile (xoshiro.hpp), and time is
// passed in, never read, so the same seed and the same offers at the same times give every frame
// the same fate. Offer order is the only order: a frame's fate is decided when it is offered.
//
// What happens to an offered frame, in this order:
//   1. the bottleneck (only with a rate): a FIFO of queue_frames frames, each leaving when the one
//      before it has been serialised at rate_bps; a frame that finds it full is tail-dropped;
//   2. loss: the Gilbert-Elliott chain steps, then the frame is lost with its state's probability
//      or, independently, with `loss`;
//   3. duplication: a real copy (rte_pktmbuf_copy, into the frame's own pool), so corrupting one
//      leaves the other alone; with no mbuf to spare the duplicate is skipped and counted;
//   4. each copy on its own: corruption (1-3 distinct bits), then its arrival time: when it left
//      the bottleneck, plus delay, plus jitter, plus, when it is held back, up to reorder_delay.
// Frames due at the same time come out in the order they were offered, so a link without jitter
// or reordering keeps order.
//
// Nothing is allocated per frame: held frames wait in a min-heap of fixed capacity; a frame that
// finds it full is dropped and counted (dropped_overflow). Corrupting a frame that someone else
// also holds (a reference count above one, or an indirect mbuf) would corrupt their copy too, so
// such a frame is first copied, and left intact (and counted) when there is no mbuf for that.
//
// Not thread-safe: one thread offers and polls.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string_view>
#include <vector>

#include <rte_mbuf.h>

#include "dataplane/timers/clock.hpp"
#include "drivers/fault_profile.hpp"
#include "drivers/xoshiro.hpp"

namespace sluice::drivers {

#define SLUICE_FAULT_COUNTERS(X)                                       \
    X(offered)                                                         \
    X(delivered)                                                       \
    X(dropped_loss)     /* lost by the profile's loss or burst loss */ \
    X(dropped_queue)    /* tail-dropped at the bottleneck's queue */   \
    X(dropped_overflow) /* the link's holding area was full */         \
    X(duplicated)                                                      \
    X(duplicate_skipped) /* no mbuf for the copy */                    \
    X(reordered)         /* held back by the reorder delay */          \
    X(corrupted)                                                       \
    X(corrupt_skipped) /* a shared frame, and no mbuf for a private copy to corrupt */

struct FaultCounters {
#define SLUICE_FAULT_COUNTER_FIELD(name) std::uint64_t name = 0;
    SLUICE_FAULT_COUNTERS(SLUICE_FAULT_COUNTER_FIELD)
#undef SLUICE_FAULT_COUNTER_FIELD

    void for_each(const std::function<void(std::string_view, std::uint64_t)>& visit) const;
};

class FaultyLink {
  public:
    static constexpr std::uint32_t kDefaultCapacity = 16384;
    static constexpr Nanos kNever = Nanos::max();

    // `capacity`: frames the link holds at once, from the bottleneck to the far end.
    explicit FaultyLink(const FaultProfile& profile, std::uint32_t capacity = kDefaultCapacity);
    // Frees the frames still held.
    ~FaultyLink();
    FaultyLink(const FaultyLink&) = delete;
    FaultyLink& operator=(const FaultyLink&) = delete;

    // Takes ownership of `frame`, offered at `now` (which must not go backwards).
    void offer(rte_mbuf* frame, Nanos now);
    // Hands over the frames due at or before `now`, earliest first, at most out.size(); returns
    // how many. The caller owns them.
    std::size_t poll(Nanos now, std::span<rte_mbuf*> out);
    // When the earliest held frame is due; kNever when none is held.
    Nanos next_release() const { return held_.empty() ? kNever : held_.front().release; }
    std::size_t held() const { return held_.size(); }

    const FaultCounters& counters() const { return counters_; }
    const FaultProfile& profile() const { return profile_; }

  private:
    struct Held {
        Nanos release;
        std::uint64_t order;  // offer order: frames due at the same time keep it
        rte_mbuf* frame;
    };
    // The heap's order: std::push_heap builds a max-heap, so "less" means "due later".
    static bool later(const Held& a, const Held& b) {
        return a.release != b.release ? a.release > b.release : a.order > b.order;
    }

    // When a frame offered at `now` leaves the bottleneck; kNever when its queue is full (a tail
    // drop).
    Nanos leave_bottleneck(const rte_mbuf& frame, Nanos now);
    bool lost();
    // Flips 1-3 bits of `frame`, first copying it if it is shared; returns the frame to send on.
    rte_mbuf* corrupt(rte_mbuf* frame);
    void hold(rte_mbuf* frame, Nanos left_bottleneck);

    FaultProfile profile_;
    Xoshiro256 random_;
    bool in_bad_state_ = false;
    std::uint64_t next_order_ = 0;
    std::vector<Held> held_;  // a heap; capacity reserved once, never grown
    std::uint32_t capacity_;
    // The bottleneck: when each frame in it leaves, oldest first (a ring of queue_frames).
    std::vector<Nanos> departures_;
    std::uint32_t departures_head_ = 0;
    std::uint32_t departures_count_ = 0;
    Nanos last_departure_{0};
    FaultCounters counters_;
};

}  // namespace sluice::drivers
