// A connection's received bytes: in order (ready for the application, handed over as mbufs without
// copying, or copied out), and out of order (held, bounded, until the gap before them fills).
// RFC 9293 3.10.7.4 seventh step; RFC 9293 3.8.6 for what the window is made of.
//
// Not thread-safe: owned by one connection on one worker.
#pragma once

#include <cstdint>
#include <span>

#include <rte_mbuf.h>

#include "dataplane/tcp/queue_field.hpp"
#include "dataplane/tcp/seq.hpp"

namespace sluice::tcp {

// A SACK block as the receive queue reports it: [left, right).
struct SackRange {
    SeqNum left;
    SeqNum right;
};

class ReceiveQueue {
  public:
    ReceiveQueue() = default;
    ReceiveQueue(const ReceiveQueue&) = delete;
    ReceiveQueue& operator=(const ReceiveQueue&) = delete;
    ~ReceiveQueue() { clear(); }

    // In-order bytes waiting for the application.
    std::uint32_t readable() const { return in_order_bytes_; }
    bool has_out_of_order() const { return ooo_root_ != nullptr; }
    // Held out of order (kept in the tree's root, queue_field.hpp).
    std::uint32_t out_of_order_segments() const;
    std::uint32_t out_of_order_bytes() const { return ooo_bytes_; }
    // Segments held out of order by every queue of the calling thread (one worker's), for the
    // worker's own bound on them. Signed: a queue emptied on another thread (at shutdown)
    // takes its segments off that thread's count.
    static std::int64_t held_on_this_thread() { return held_on_this_thread_; }

    // A segment whose payload (the mbuf's data, trimmed to the window by the caller) starts at
    // `seq`, with `fin` when a FIN follows its last byte. If it starts at `rcv_nxt` it is appended
    // along with any held segments it makes contiguous, and the new RCV.NXT is returned; otherwise
    // it is held (if `max_ooo` allows) and `rcv_nxt` is returned unchanged. A FIN that arrives out
    // of order is held with its segment (an empty one if it came alone) until the data before it
    // has arrived (RFC 9293 3.10.7.4, eighth step). Takes ownership in every case. O(log n) in
    // the segments held (expected: a treap), whatever order segments come in.
    struct Outcome {
        SeqNum rcv_nxt;
        bool held = false;         // kept out of order
        bool dropped = false;      // out of order but no room, or wholly duplicate
        bool duplicate = false;    // every byte was here already (for D-SACK, RFC 2883)
        bool fin_reached = false;  // a held FIN is now in order: RCV.NXT is its sequence number
    };
    Outcome insert(rte_mbuf* segment, SeqNum seq, SeqNum rcv_nxt, std::uint32_t max_ooo,
                   bool fin = false);

    // The SACK blocks the held data makes (RFC 2018 3): contiguous runs, the one holding
    // `recent` first (4: the most recently received), then the others from the highest down; at
    // most out.size() (and at most four). Returns how many.
    std::size_t sack_blocks(std::span<SackRange> out, SeqNum recent) const;

    // The first in-order buffer, whole, for the caller to own and free (zero-copy read).
    rte_mbuf* pop();
    // Copies up to out.size() in-order bytes; returns how many.
    std::uint32_t read(std::span<std::byte> out);
    // The same without consuming them.
    std::uint32_t peek(std::span<std::byte> out) const;
    // Where the first held segment starts, if any (for SACK and tests).
    bool first_held(SeqNum& start, SeqNum& end) const;
    // The depth of the held segments' tree (0 when none are held): for tests of its balance.
    std::uint32_t out_of_order_depth() const;
    void clear();

  private:
    void append_in_order(rte_mbuf* m);
    SeqNum drain_held(SeqNum rcv_nxt, bool& fin_reached);
    // The held segments' count lives in the tree's root: read it before a change, and store the
    // new one after it (into whichever mbuf is the root then), which also keeps the thread's
    // count.
    std::uint32_t held_count() const;
    void store_held_count(std::uint32_t before, std::uint32_t after);
    void free_held();
    static SeqNum seq_of(const rte_mbuf* m) { return SeqNum(m->hash.usr); }
    // A held segment after whose last byte the peer's FIN comes: marked in the second word of
    // the mbuf's hash (its RSS hash, read long before), so that the TCB needs no field for it.
    static bool fin_follows(const rte_mbuf* m) { return m->hash.fdir.hi != 0; }
    static void set_fin_follows(rte_mbuf* m, bool fin) { m->hash.fdir.hi = fin ? 1 : 0; }

    // Pointers first, then the counts: 32 bytes with no padding (one in every TCB).
    rte_mbuf* head_ = nullptr;  // in order
    rte_mbuf* tail_ = nullptr;
    // Held out of order, no two overlapping: a search tree by sequence number (for O(log n)
    // placement), its nodes also linked in order through `next` (for walking them).
    rte_mbuf* ooo_root_ = nullptr;
    std::uint32_t in_order_bytes_ = 0;
    std::uint32_t ooo_bytes_ = 0;

    static constinit thread_local std::int64_t held_on_this_thread_;
};

}  // namespace sluice::tcp
