// The connections whose in-order data owes an ACK by the two-segment rule (RFC 9293 3.8.6.3), held
// until the worker has handled the whole receive burst: one ACK then covers every segment the
// burst brought the connection, as Linux's ACK for a GRO-merged segment does (tcp_ack_snd_check
// runs once per merged skb, up to 64 KiB). A burst is at most 32 frames (46 KiB of full segments),
// and the ACK leaves in the same loop turn, microseconds after the segments arrived.
//
// Only the in-order case waits: an out-of-order segment, or one that fills a gap, is ACKed at the
// end of its own processing (RFC 5681 4.2), so that the sender sees every duplicate ACK.
//
// Consecutive segments of one connection add one entry; a connection whose segments are
// interleaved with others' may add several, and the second finds nothing owed. When the list is
// full the caller sends what it holds first.
//
// Not thread-safe: one per worker.
#pragma once

#include <array>
#include <cstdint>

namespace sluice::tcp {

class BurstAcks {
  public:
    struct Entry {
        std::uint32_t slot = 0;
        std::uint32_t generation = 0;
    };
    static constexpr std::uint32_t kCapacity = 64;

    // False when the list is full (the caller flushes it and adds again).
    bool add(std::uint32_t slot, std::uint32_t generation) {
        if (size_ > 0 && entries_[size_ - 1].slot == slot &&
            entries_[size_ - 1].generation == generation)
            return true;
        if (size_ == kCapacity)
            return false;
        entries_[size_++] = {slot, generation};
        return true;
    }
    // Hands every entry to `send(entry)`, oldest first, and empties the list.
    template <typename Send>
    void drain(Send&& send) {
        const std::uint32_t n = size_;
        size_ = 0;
        for (std::uint32_t i = 0; i < n; ++i)
            send(entries_[i]);
    }

  private:
    std::array<Entry, kCapacity> entries_{};
    std::uint32_t size_ = 0;
};

}  // namespace sluice::tcp
