// A connection's received bytes: in order (ready for the application, handed over as mbufs without
// copying, or copied out), and out of order (held, bounded, until the gap before them fills).
// RFC 9293 3.10.7.4 seventh step; RFC 9293 3.8.6 for what the window is made of.
//
// Not thread-safe: owned by one connection on one worker.
#pragma once

#include <cstdint>
#include <span>

#include <rte_mbuf.h>

#include "dataplane/tcp/seq.hpp"

namespace sluice::tcp {

class ReceiveQueue {
  public:
    ReceiveQueue() = default;
    ReceiveQueue(const ReceiveQueue&) = delete;
    ReceiveQueue& operator=(const ReceiveQueue&) = delete;
    ~ReceiveQueue() { clear(); }

    // In-order bytes waiting for the application.
    std::uint32_t readable() const { return in_order_bytes_; }
    bool has_out_of_order() const { return ooo_head_ != nullptr; }
    // Counted by walking them (at most the configured bound): not kept, to keep the TCB small.
    std::uint32_t out_of_order_segments() const;
    std::uint32_t out_of_order_bytes() const { return ooo_bytes_; }

    // A segment whose payload (the mbuf's data, trimmed to the window by the caller) starts at
    // `seq`. If it starts at `rcv_nxt` it is appended along with any held segments it makes
    // contiguous, and the new RCV.NXT is returned; otherwise it is held (if `max_ooo` allows) and
    // `rcv_nxt` is returned unchanged. Takes ownership in every case.
    struct Outcome {
        SeqNum rcv_nxt;
        bool held = false;     // kept out of order
        bool dropped = false;  // out of order but no room, or wholly duplicate
    };
    Outcome insert(rte_mbuf* segment, SeqNum seq, SeqNum rcv_nxt, std::uint16_t max_ooo);

    // The first in-order buffer, whole, for the caller to own and free (zero-copy read).
    rte_mbuf* pop();
    // Copies up to out.size() in-order bytes; returns how many.
    std::uint32_t read(std::span<std::byte> out);
    // The same without consuming them.
    std::uint32_t peek(std::span<std::byte> out) const;
    // Where the first held segment starts, if any (for SACK and tests).
    bool first_held(SeqNum& start, SeqNum& end) const;
    void clear();

  private:
    void append_in_order(rte_mbuf* m);
    SeqNum drain_held(SeqNum rcv_nxt);
    static SeqNum seq_of(const rte_mbuf* m) { return SeqNum(m->hash.usr); }

    // Pointers first, then the counts: 32 bytes with no padding (one in every TCB).
    rte_mbuf* head_ = nullptr;  // in order
    rte_mbuf* tail_ = nullptr;
    rte_mbuf* ooo_head_ = nullptr;  // sorted by sequence number, no overlaps
    std::uint32_t in_order_bytes_ = 0;
    std::uint32_t ooo_bytes_ = 0;
};

}  // namespace sluice::tcp
