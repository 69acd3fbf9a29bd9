// A connection's outgoing bytes from SND.UNA on: sent-but-unacknowledged, then not yet sent. Held
// in mbufs from the worker's pool, each at most one segment's payload, so that a segment is
// usually one whole mbuf and goes out by reference: its headers are written into the mbuf's
// headroom and the device takes a second reference, where a copy would cost a fresh mbuf and a
// pass over the payload (see frame()). Acked bytes are trimmed from the front; a cursor keeps
// sequential reads for transmission O(1).
//
// The queue's own bookkeeping (the link to the next mbuf, where the payload lies) is kept in a
// dynamic mbuf field, not in `next`, `data_off` and `data_len`: those describe the frame while a
// device holds it, and the queue must not touch them then.
//
// Not thread-safe: owned by one connection on one worker.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <sluice/result.hpp>
#include "dataplane/tcp/queue_field.hpp"

namespace sluice::tcp {

class SendQueue {
  public:
    SendQueue() = default;
    SendQueue(const SendQueue&) = delete;
    SendQueue& operator=(const SendQueue&) = delete;
    ~SendQueue() { clear(); }

    std::uint32_t size() const { return bytes_; }
    bool empty() const { return bytes_ == 0; }

    // Copies as much of `data` as `room` allows into mbufs from `pool`, at most `chunk` bytes in
    // each (the MSS); returns the bytes taken, fewer than asked when the room or the pool runs
    // out.
    std::uint32_t append_copy(std::span<const std::byte> data, std::uint32_t room,
                              std::uint32_t chunk, rte_mempool* pool);
    // Takes a whole chain without copying (zero-copy send). A segment whose mbuf another holder
    // shares gets an indirect mbuf of its own from `pool`, so the queue's bookkeeping never
    // writes into shared metadata. All or nothing: false (and the caller keeps the chain) when
    // `pool` cannot supply those.
    bool append_chain(rte_mbuf* chain, rte_mempool* pool);
    // Drops `n` acknowledged bytes from the front.
    void consume(std::uint32_t n);

    // Of a full segment's `length` bytes wanted from `offset`: fewer when that keeps segment
    // edges on mbuf edges. A segment that starts inside an mbuf ends with it (one shorter
    // segment puts the ones after it back in line, after a partly filled mbuf was sent); one that
    // starts with an mbuf takes whole mbufs as long as they fit, and only a first mbuf larger
    // than `length` is split. Segments in line with the mbufs go by reference, and the peer's
    // SACK blocks, which follow segment edges, then cover whole mbufs: the scoreboard's unit.
    // Without this, one short mbuf (a small segment the peer sent to an echo server, say) would
    // shift every later segment across two mbufs for good.
    std::uint32_t segment_length(std::uint32_t offset, std::uint32_t length);
    // The mbuf holding exactly the `length` bytes from `offset`, made ready to be sent as a frame
    // by reference (data_off, data_len and pkt_len cover those bytes, offload fields cleared,
    // one more reference taken for the caller), or nullptr when it cannot be: the bytes do not
    // begin an mbuf's payload, the mbuf is shared or indirect, or has less than `headroom` bytes
    // in front of the payload for the headers. The caller prepends the headers and hands the mbuf
    // to the device; this relies on devices freeing what they send by reference count (as every
    // DPDK driver does unless RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE is enabled, which Sluice never
    // asks for).
    rte_mbuf* frame(std::uint32_t offset, std::uint32_t length, std::uint16_t headroom);
    // Copies `length` bytes starting `offset` bytes after the front into `out`.
    void copy_out(std::uint32_t offset, std::uint32_t length, std::byte* out);
    void clear();

    // --- the SACK scoreboard (RFC 6675 3), kept as bits in each mbuf's own field ---
    //
    // A mbuf is the scoreboard's unit: the peer's blocks mark the mbufs they cover whole, and a
    // lost one is retransmitted whole (in MSS-sized pieces if it is larger). Since send() fills
    // mbufs up to one MSS and segments line up with them, a mbuf is nearly always one segment.

    // Records that the bytes [offset, offset + length) left at `now_us` (a microsecond stamp),
    // first or again.
    void note_sent(std::uint32_t offset, std::uint32_t length, std::uint32_t now_us,
                   bool retransmission);

    // RACK's reference point (RFC 8985 6.1): the most recently sent segment known to have
    // arrived, by send time and then by end (an offset from the front, negative once it is
    // acknowledged). A segment sent before it and still unacknowledged is overdue.
    struct RackPoint {
        bool known = false;
        std::uint32_t sent_us = 0;
        std::int64_t end = 0;
        bool operator==(const RackPoint&) const = default;
    };
    // What newly delivered mbufs (SACKed, or acknowledged cumulatively) tell.
    struct Delivery {
        std::uint32_t bytes = 0;  // newly marked SACKed (mark_sacked only)
        // Acknowledged cumulatively but SACKed before (note_acknowledged only): delivered then.
        std::uint32_t sacked_before = 0;
        // Send times of the earliest- and latest-sent of them never sent twice: RTT samples
        // Karn's rule allows.
        std::optional<std::uint32_t> oldest_clean_us;
        std::optional<std::uint32_t> newest_clean_us;
        // The latest-sent of them whose arrival is not ambiguous (RFC 8985 6.2 step 2: a
        // retransmission answered sooner than `ambiguous_us` after it left may be its original's
        // answer): RACK's new reference point when it is later than the old one.
        RackPoint newest;
        // One never sent twice arrived after one sent later had (RFC 8985 6.2 step 3).
        bool reordered = false;
    };
    // Marks the mbufs lying wholly inside [begin, end) (offsets from the front) as SACKed and
    // adds what they tell to `d`. `rack` is the reference point before this ACK.
    void mark_sacked(std::uint32_t begin, std::uint32_t end, const RackPoint& rack,
                     std::uint32_t now_us, std::uint32_t ambiguous_us, Delivery& d);
    // The same for the first `length` bytes, about to be acknowledged cumulatively (before
    // consume()): mbufs SACKed earlier told their story then.
    void note_acknowledged(std::uint32_t length, const RackPoint& rack, std::uint32_t now_us,
                           std::uint32_t ambiguous_us, Delivery& d);
    // Forgets every SACK and retransmission mark and every send time (RFC 2018 8, after
    // timeouts: the receiver may have reneged), or only the retransmission marks and the send
    // times (after a timeout: what went before it can neither be timed nor judged by RACK).
    void clear_marks();
    void forget_transmissions();
    // The SACKed bytes from `offset` on, whole mbufs, up to `limit`: what going back after a
    // timeout may step over.
    std::uint32_t sacked_at(std::uint32_t offset, std::uint32_t limit);

    // How assess() judges a range lost.
    struct LossRules {
        // RFC 6675 IsLost: an unSACKed mbuf with more than this many bytes SACKed above it is
        // lost ((DupThresh - 1) * SMSS); UINT32_MAX turns the rule off.
        std::uint32_t sacked_above = UINT32_MAX;
        // RACK (RFC 8985 6.2 step 5): an unSACKed mbuf sent before `rack` is lost once
        // `rack_rtt_us` + `reo_wnd_us` have passed since it left; reo_wnd_us counts as 0 once
        // `zero_reo_wnd_sacked` bytes or more are SACKed (step 4, when no reordering was seen).
        RackPoint rack;
        std::uint32_t now_us = 0;
        std::uint32_t rack_rtt_us = 0;
        std::uint32_t reo_wnd_us = 0;
        std::uint32_t zero_reo_wnd_sacked = UINT32_MAX;
        bool operator==(const LossRules&) const = default;
    };
    // What the scoreboard says of the first `sent` bytes (RFC 6675 4, IsLost, SetPipe, NextSeg).
    struct Assessment {
        std::uint32_t sacked = 0;  // bytes SACKed
        std::uint32_t pipe = 0;    // bytes judged still in the network
        // The lowest range judged lost and not retransmitted since (NextSeg rule 1); empty when
        // length is 0.
        std::uint32_t lost_offset = 0;
        std::uint32_t lost_length = 0;
        bool any_lost = false;         // any range judged lost, retransmitted or not
        std::uint32_t lost_again = 0;  // retransmissions RACK judged lost themselves, this call
        // RACK's reordering timer (RFC 8985 6.3): microseconds until the next mbuf sent before
        // the reference point would be overdue; 0 when none waits.
        std::uint32_t reorder_wait_us = 0;
    };
    Assessment assess(std::uint32_t sent, const LossRules& rules);

    // How many times, on this thread, any send queue's marks or extent changed (SACK marks,
    // acknowledged data, marks forgotten) and how many times one's data was sent: an assessment
    // stays true while neither moved and its inputs are the same (TcpStack keeps the last one).
    // Per thread, so per worker: nothing shared.
    struct ChangeCount {
        std::uint64_t marks = 0;
        std::uint64_t sends = 0;
    };
    static const ChangeCount& changes() { return changes_; }

  private:
    // constinit: no dynamic initialisation, so other translation units read it directly rather
    // than through a thread_local wrapper call.
    static constinit thread_local ChangeCount changes_;
    void link(rte_mbuf* segment, bool fillable);
    // The mbuf holding stream offset `offset` and the offset of its first byte (moves the cursor
    // there unless told not to).
    rte_mbuf* locate(std::uint32_t offset, std::uint32_t& start, bool move_cursor = true);

    // Pointers first, then the counts: 32 bytes with no padding (one in every TCB).
    rte_mbuf* head_ = nullptr;
    rte_mbuf* tail_ = nullptr;
    rte_mbuf* cursor_ = nullptr;  // a segment at or before the last read position
    std::uint32_t bytes_ = 0;
    std::uint32_t cursor_offset_ = 0;  // stream offset of cursor_'s first byte
};

}  // namespace sluice::tcp
