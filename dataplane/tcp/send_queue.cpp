#include "dataplane/tcp/send_queue.hpp"

#include <algorithm>
#include <cstring>

namespace sluice::tcp {

namespace {

SendEntry& entry(rte_mbuf* m) {
    return queue_field(m).send;
}

enum Mark : std::uint8_t {
    kSacked = 1,         // the peer holds it (RFC 2018)
    kRetransmitted = 2,  // sent again since it was judged lost
};

// Whether stamp `a` is later than stamp `b`, modulo 2^32 microseconds.
bool later(std::uint32_t a, std::uint32_t b) {
    return static_cast<std::int32_t>(a - b) > 0;
}

// Whether an mbuf sent at `sent_us` and ending at offset `end` left before RACK's reference point
// (RFC 8985 6.2: by send time, and by sequence among those sent in the same microsecond).
bool sent_before(std::uint32_t sent_us, std::int64_t end, const SendQueue::RackPoint& p) {
    return later(p.sent_us, sent_us) || (sent_us == p.sent_us && end <= p.end);
}

bool exclusive(const rte_mbuf* m) {
    return RTE_MBUF_DIRECT(m) && rte_mbuf_refcnt_read(m) == 1;
}

}  // namespace

constinit thread_local SendQueue::ChangeCount SendQueue::changes_;

void SendQueue::link(rte_mbuf* segment, bool fillable) {
    SendEntry& e = entry(segment);
    e.next = nullptr;
    e.payload_offset = segment->data_off;
    e.payload_length = segment->data_len;
    e.sent_us = 0;
    e.fillable = fillable;
    e.marks = 0;
    segment->next = nullptr;
    segment->nb_segs = 1;
    segment->pkt_len = segment->data_len;
    if (tail_ == nullptr) {
        head_ = tail_ = segment;
    } else {
        entry(tail_).next = segment;
        tail_ = segment;
    }
    bytes_ += segment->data_len;
}

std::uint32_t SendQueue::append_copy(std::span<const std::byte> data, std::uint32_t room,
                                     std::uint32_t chunk, rte_mempool* pool) {
    chunk = std::max<std::uint32_t>(chunk, 1);
    std::uint32_t taken = 0;
    const auto wanted = static_cast<std::uint32_t>(std::min<std::size_t>(data.size(), room));
    // Fill the tail up to a chunk first, so that small writes do not each cost an mbuf. Safe even
    // while a device holds a frame of it: that frame ends where the payload ended then. Not once
    // the scoreboard has marked it (SACKed, or resent): the new bytes would inherit the mark.
    if (tail_ != nullptr && wanted > 0 && entry(tail_).fillable && entry(tail_).marks == 0) {
        SendEntry& e = entry(tail_);
        const std::uint32_t end = e.payload_offset + e.payload_length;
        const std::uint32_t space = std::min<std::uint32_t>(
            tail_->buf_len - end, chunk > e.payload_length ? chunk - e.payload_length : 0);
        const std::uint32_t n = std::min(space, wanted);
        if (n > 0) {
            std::memcpy(static_cast<std::byte*>(tail_->buf_addr) + end, data.data(), n);
            e.payload_length = static_cast<std::uint16_t>(e.payload_length + n);
            bytes_ += n;
            taken += n;
        }
    }
    while (taken < wanted) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool);
        if (m == nullptr)
            break;
        const std::uint32_t n =
            std::min({std::uint32_t{rte_pktmbuf_tailroom(m)}, chunk, wanted - taken});
        std::memcpy(rte_pktmbuf_mtod(m, std::byte*), data.data() + taken, n);
        m->data_len = static_cast<std::uint16_t>(n);
        link(m, /*fillable=*/true);
        taken += n;
    }
    return taken;
}

bool SendQueue::append_chain(rte_mbuf* chain, rte_mempool* pool) {
    // A segment shared with another holder (a frame looped back in this process, say) has
    // metadata that is not ours to write: it joins as an indirect mbuf of our own. Take those
    // first, linked through their own `next`, so that failing leaves the chain untouched.
    rte_mbuf* spares = nullptr;
    for (const rte_mbuf* m = chain; m != nullptr; m = m->next) {
        if (m->data_len == 0 || rte_mbuf_refcnt_read(m) == 1)
            continue;
        rte_mbuf* spare = rte_pktmbuf_alloc(pool);
        if (spare == nullptr) {
            rte_pktmbuf_free(spares);
            return false;
        }
        spare->next = spares;
        spares = spare;
    }
    while (chain != nullptr) {
        rte_mbuf* next = chain->next;
        if (chain->data_len == 0) {
            chain->next = nullptr;
            rte_pktmbuf_free_seg(chain);
        } else if (spares != nullptr && rte_mbuf_refcnt_read(chain) > 1) {
            rte_mbuf* own = spares;
            spares = spares->next;
            own->next = nullptr;
            rte_pktmbuf_attach(own, chain);  // takes a reference to the buffer
            rte_pktmbuf_free_seg(chain);     // and drops the one the caller handed us
            link(own, /*fillable=*/false);
        } else {
            link(chain, exclusive(chain));
        }
        chain = next;
    }
    // Left over only if another holder let go of a segment between the two passes.
    rte_pktmbuf_free(spares);
    return true;
}

void SendQueue::consume(std::uint32_t n) {
    n = std::min(n, bytes_);
    const std::uint32_t consumed = n;
    changes_.marks += 1;
    while (n > 0) {
        SendEntry& e = entry(head_);
        if (e.payload_length <= n) {
            n -= e.payload_length;
            bytes_ -= e.payload_length;
            rte_mbuf* next = e.next;
            if (cursor_ == head_)
                cursor_ = nullptr;
            // A device may still hold a frame of it: free_seg only drops our reference then.
            rte_pktmbuf_free_seg(head_);
            head_ = next;
        } else {
            e.payload_offset = static_cast<std::uint16_t>(e.payload_offset + n);
            e.payload_length = static_cast<std::uint16_t>(e.payload_length - n);
            bytes_ -= n;
            if (cursor_ == head_)
                cursor_ = nullptr;
            n = 0;
        }
    }
    if (head_ == nullptr)
        tail_ = nullptr;
    if (cursor_ != nullptr)
        cursor_offset_ -= consumed;
}

rte_mbuf* SendQueue::locate(std::uint32_t offset, std::uint32_t& start, bool move_cursor) {
    rte_mbuf* m = head_;
    start = 0;
    if (cursor_ != nullptr && cursor_offset_ <= offset) {
        m = cursor_;
        start = cursor_offset_;
    }
    while (m != nullptr && start + entry(m).payload_length <= offset) {
        start += entry(m).payload_length;
        m = entry(m).next;
    }
    if (m != nullptr && move_cursor) {
        cursor_ = m;
        cursor_offset_ = start;
    }
    return m;
}

std::uint32_t SendQueue::segment_length(std::uint32_t offset, std::uint32_t length) {
    std::uint32_t start = 0;
    rte_mbuf* m = locate(offset, start);
    if (m == nullptr)
        return length;
    if (offset != start)
        return std::min(start + entry(m).payload_length - offset, length);
    std::uint32_t whole = 0;
    for (; m != nullptr && whole + entry(m).payload_length <= length; m = entry(m).next)
        whole += entry(m).payload_length;
    return whole == 0 ? length : whole;
}

rte_mbuf* SendQueue::frame(std::uint32_t offset, std::uint32_t length, std::uint16_t headroom) {
    std::uint32_t start = 0;
    rte_mbuf* m = locate(offset, start);
    if (m == nullptr || offset != start || !exclusive(m))
        return nullptr;
    const SendEntry& e = entry(m);
    if (length > e.payload_length || e.payload_offset < headroom)
        return nullptr;
    // Nobody else holds it, so its frame fields are ours to set; no atomic needed to count the
    // device's reference either.
    m->data_off = e.payload_offset;
    m->data_len = static_cast<std::uint16_t>(length);
    m->pkt_len = length;
    m->ol_flags = 0;
    m->tx_offload = 0;
    m->packet_type = 0;
    rte_mbuf_refcnt_set(m, 2);
    return m;
}

void SendQueue::copy_out(std::uint32_t offset, std::uint32_t length, std::byte* out) {
    std::uint32_t start = 0;
    rte_mbuf* m = locate(offset, start);
    while (length > 0 && m != nullptr) {
        const SendEntry& e = entry(m);
        cursor_ = m;
        cursor_offset_ = start;
        const std::uint32_t within = offset - start;
        const std::uint32_t n = std::min<std::uint32_t>(e.payload_length - within, length);
        std::memcpy(out, static_cast<const std::byte*>(m->buf_addr) + e.payload_offset + within, n);
        out += n;
        offset += n;
        length -= n;
        start += e.payload_length;
        m = e.next;
    }
}

void SendQueue::note_sent(std::uint32_t offset, std::uint32_t length, std::uint32_t now_us,
                          bool retransmission) {
    changes_.sends += 1;
    std::uint32_t start = 0;
    for (rte_mbuf* m = locate(offset, start); m != nullptr && start < offset + length;) {
        SendEntry& e = entry(m);
        e.sent_us = now_us;
        if (retransmission)
            e.marks |= kRetransmitted;
        start += e.payload_length;
        m = e.next;
    }
}

namespace {

// One mbuf newly known to have arrived: what it tells RACK and the RTT estimator.
void note_delivery(const SendEntry& e, std::int64_t end, const SendQueue::RackPoint& rack,
                   std::uint32_t now_us, std::uint32_t ambiguous_us, SendQueue::Delivery& d) {
    if (e.sent_us == 0)
        return;  // sent before a timeout: its send time is forgotten
    const bool retransmitted = (e.marks & kRetransmitted) != 0;
    if (!retransmitted) {
        if (!d.oldest_clean_us || later(*d.oldest_clean_us, e.sent_us))
            d.oldest_clean_us = e.sent_us;
        if (!d.newest_clean_us || later(e.sent_us, *d.newest_clean_us))
            d.newest_clean_us = e.sent_us;
        // RFC 8985 6.2 step 3: sent once and ending below the segment RACK last saw arrive, it
        // was overtaken on the way (a lost ACK can look the same; RFC 8985 accepts that).
        if (rack.known && end < rack.end)
            d.reordered = true;
    } else if (now_us - e.sent_us < ambiguous_us) {
        return;  // too soon to be the retransmission's own answer
    }
    if (!d.newest.known ||
        sent_before(d.newest.sent_us, d.newest.end, SendQueue::RackPoint{true, e.sent_us, end})) {
        d.newest = SendQueue::RackPoint{true, e.sent_us, end};
    }
}

}  // namespace

void SendQueue::mark_sacked(std::uint32_t begin, std::uint32_t end, const RackPoint& rack,
                            std::uint32_t now_us, std::uint32_t ambiguous_us, Delivery& d) {
    std::uint32_t start = 0;
    // The cursor stays where sending left it: SACK blocks lie below the send point, and output()
    // walking back up to it from a block on every ACK of recovery cost a walk over the window.
    for (rte_mbuf* m = locate(begin, start, /*move_cursor=*/false); m != nullptr && start < end;) {
        SendEntry& e = entry(m);
        const std::uint32_t stop = start + e.payload_length;
        if (start >= begin && stop <= end && (e.marks & kSacked) == 0) {
            note_delivery(e, stop, rack, now_us, ambiguous_us, d);
            e.marks |= kSacked;
            d.bytes += e.payload_length;
            changes_.marks += 1;
        }
        start = stop;
        m = e.next;
    }
}

void SendQueue::note_acknowledged(std::uint32_t length, const RackPoint& rack, std::uint32_t now_us,
                                  std::uint32_t ambiguous_us, Delivery& d) {
    std::uint32_t start = 0;
    const bool reordered_before = d.reordered;
    bool retransmission_acknowledged = false;
    for (rte_mbuf* m = head_; m != nullptr && start < length; m = entry(m).next) {
        const SendEntry& e = entry(m);
        const std::uint32_t stop = start + e.payload_length;
        if (stop <= length && (e.marks & kSacked) == 0) {
            note_delivery(e, stop, rack, now_us, ambiguous_us, d);
            retransmission_acknowledged |= (e.marks & kRetransmitted) != 0;
        } else if (stop <= length) {
            d.sacked_before += e.payload_length;
        }
        start = stop;
    }
    // A cumulative ACK that covers a retransmission may also cover segments that arrived long
    // ago but whose SACK blocks the peer never got round to reporting (it sends at most four):
    // their late news is no reordering (Linux makes the same exception).
    if (retransmission_acknowledged)
        d.reordered = reordered_before;
}

void SendQueue::clear_marks() {
    changes_.marks += 1;
    // The send times go too: a block that SACKs these again reports data the peer has had for
    // long, and its age is no RTT.
    for (rte_mbuf* m = head_; m != nullptr; m = entry(m).next) {
        entry(m).marks = 0;
        entry(m).sent_us = 0;
    }
}

void SendQueue::forget_transmissions() {
    changes_.marks += 1;
    for (rte_mbuf* m = head_; m != nullptr; m = entry(m).next) {
        entry(m).marks &= static_cast<std::uint8_t>(~kRetransmitted);
        entry(m).sent_us = 0;
    }
}

std::uint32_t SendQueue::sacked_at(std::uint32_t offset, std::uint32_t limit) {
    std::uint32_t start = 0;
    std::uint32_t run = 0;
    for (rte_mbuf* m = locate(offset, start); m != nullptr && run < limit; m = entry(m).next) {
        const SendEntry& e = entry(m);
        if ((e.marks & kSacked) == 0)
            break;
        // The first mbuf may begin before `offset`: only its part from there on counts.
        run += start < offset ? start + e.payload_length - offset : e.payload_length;
        start += e.payload_length;
    }
    return std::min(run, limit);
}

SendQueue::Assessment SendQueue::assess(std::uint32_t sent, const LossRules& r) {
    Assessment a;
    // First pass: how much is SACKed.
    std::uint32_t start = 0;
    for (rte_mbuf* m = head_; m != nullptr && start < sent; m = entry(m).next) {
        const SendEntry& e = entry(m);
        if (e.marks & kSacked)
            a.sacked += e.payload_length;
        start += e.payload_length;
    }
    const std::uint32_t reo_wnd_us = a.sacked >= r.zero_reo_wnd_sacked ? 0 : r.reo_wnd_us;
    const std::uint32_t overdue_after_us = r.rack_rtt_us + reo_wnd_us;
    // Second pass, from the front: is each unSACKed mbuf lost, and is it in the pipe?
    std::uint32_t sacked_so_far = 0;
    start = 0;
    for (rte_mbuf* m = head_; m != nullptr && start < sent; m = entry(m).next) {
        SendEntry& e = entry(m);
        const std::uint32_t length = std::min<std::uint32_t>(e.payload_length, sent - start);
        const std::uint32_t stop = start + e.payload_length;
        if (e.marks & kSacked) {
            sacked_so_far += e.payload_length;
            start = stop;
            continue;
        }
        bool lost = false;
        // A retransmission counts as sent before the reference point only if it left strictly
        // earlier: one sent in the same microsecond as the segment that set the point (a round
        // trip under 1 us, or a clock that stands still) cannot be judged by it.
        const bool before_rack =
            r.rack.known && e.sent_us != 0 &&
            ((e.marks & kRetransmitted) ? later(r.rack.sent_us, e.sent_us)
                                        : sent_before(e.sent_us, stop, r.rack));
        if (before_rack) {
            const std::uint32_t out_for = r.now_us - e.sent_us;
            if (static_cast<std::int32_t>(out_for) >= 0 && out_for >= overdue_after_us) {
                lost = true;
                if (e.marks & kRetransmitted) {
                    // The retransmission was lost too: one sent after it has arrived.
                    e.marks &= static_cast<std::uint8_t>(~kRetransmitted);
                    a.lost_again += 1;
                }
            } else {
                const std::uint32_t wait = static_cast<std::int32_t>(out_for) >= 0
                                               ? overdue_after_us - out_for
                                               : overdue_after_us;
                if (a.reorder_wait_us == 0 || wait < a.reorder_wait_us)
                    a.reorder_wait_us = wait;
            }
        }
        if (!lost && r.sacked_above != UINT32_MAX && a.sacked - sacked_so_far > r.sacked_above &&
            (e.marks & kRetransmitted) == 0) {
            lost = true;
        }
        if (!lost || (e.marks & kRetransmitted))
            a.pipe += length;
        if (lost) {
            a.any_lost = true;
            if (a.lost_length == 0 && (e.marks & kRetransmitted) == 0) {
                a.lost_offset = start;
                a.lost_length = length;
            }
        }
        start = stop;
    }
    return a;
}

void SendQueue::clear() {
    changes_.marks += 1;
    while (head_ != nullptr) {
        rte_mbuf* next = entry(head_).next;
        rte_pktmbuf_free_seg(head_);
        head_ = next;
    }
    tail_ = cursor_ = nullptr;
    bytes_ = 0;
    cursor_offset_ = 0;
}

}  // namespace sluice::tcp
