// A worker's share of the ephemeral port space: the (local address, port) pairs it may use for its
// own connect()s, refilled in blocks by the control plane (control/ports/ephemeral_ports.hpp).
// A pair is held by at most one connection, and comes back here only when that connection's TCB
// is released, i.e. after TIME-WAIT (RFC 9293 3.4.2), so no 4-tuple is ever live twice.
//
// First in, first out: a port just given back is the last to be handed out again, which keeps a
// peer's own TIME-WAIT for the old incarnation out of the way for as long as the pool allows.
// Fixed capacity, allocated up front; one per worker, not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace sluice::tcp {

struct LocalEndpoint {
    std::uint32_t ip = 0;  // host order
    std::uint16_t port = 0;
    friend bool operator==(const LocalEndpoint&, const LocalEndpoint&) = default;
};

class LocalPortPool {
  public:
    // `capacity`: the most pairs this worker can ever hold (the whole space, to be safe).
    // `low_water`: below this many free pairs, the pool asks the control plane for another block.
    LocalPortPool(std::size_t capacity, std::size_t low_water)
        : ring_(capacity == 0 ? 1 : capacity), low_water_(low_water) {}

    // A pair joins the pool: from a refill, or given back by a released connection. False only if
    // the pool is full, which means the caller gave back something it never took.
    bool add(LocalEndpoint e) {
        if (count_ == ring_.size())
            return false;
        ring_[(head_ + count_) % ring_.size()] = e;
        ++count_;
        return true;
    }

    // The first free pair that `usable` accepts, looking at no more than `probe_limit` of them;
    // pairs it passes over go to the back. `usable` says whether a pair suits this connection (its
    // port is not a listener's, the peer's answers reach this worker).
    template <typename Usable>
    std::optional<LocalEndpoint> take(Usable&& usable, std::uint32_t probe_limit) {
        const std::size_t probes = count_ < probe_limit ? count_ : probe_limit;
        for (std::size_t i = 0; i < probes; ++i) {
            const LocalEndpoint e = ring_[head_];
            head_ = (head_ + 1) % ring_.size();
            --count_;
            if (usable(e))
                return e;
            add(e);
        }
        return std::nullopt;
    }

    // Takes out every free pair `gone` accepts (a block going back to the control plane),
    // keeping the others in order. Linear in the pool's size; rare.
    template <typename Gone>
    std::size_t remove_if(Gone&& gone) {
        std::size_t kept = 0;
        for (std::size_t i = 0; i < count_; ++i) {
            const LocalEndpoint e = ring_[(head_ + i) % ring_.size()];
            if (!gone(e))
                ring_[(head_ + kept++) % ring_.size()] = e;
        }
        const std::size_t removed = count_ - kept;
        count_ = kept;
        return removed;
    }

    std::size_t free_count() const { return count_; }
    bool below_low_water() const { return count_ < low_water_; }

  private:
    std::vector<LocalEndpoint> ring_;
    std::size_t head_ = 0;
    std::size_t count_ = 0;
    std::size_t low_water_;
};

}  // namespace sluice::tcp
