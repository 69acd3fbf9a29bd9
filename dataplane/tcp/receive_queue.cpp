#include "dataplane/tcp/receive_queue.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

namespace sluice::tcp {

namespace {

void free_one(rte_mbuf* m) {
    m->next = nullptr;
    rte_pktmbuf_free_seg(m);
}

// Drops `n` bytes from the front of a one-segment buffer.
void trim_front(rte_mbuf* m, std::uint32_t n) {
    m->data_off = static_cast<std::uint16_t>(m->data_off + n);
    m->data_len = static_cast<std::uint16_t>(m->data_len - n);
    m->pkt_len = m->data_len;
    m->hash.usr += n;
}

void trim_back(rte_mbuf* m, std::uint32_t n) {
    m->data_len = static_cast<std::uint16_t>(m->data_len - n);
    m->pkt_len = m->data_len;
}

}  // namespace

void ReceiveQueue::append_in_order(rte_mbuf* m) {
    m->next = nullptr;
    m->nb_segs = 1;
    if (tail_ == nullptr) {
        head_ = tail_ = m;
    } else {
        tail_->next = m;
        tail_ = m;
    }
    in_order_bytes_ += m->data_len;
}

ReceiveQueue::Outcome ReceiveQueue::insert(rte_mbuf* segment, SeqNum seq, SeqNum rcv_nxt,
                                           std::uint32_t max_ooo, bool fin) {
    segment->hash.usr = seq.raw();
    set_fin_follows(segment, fin);
    segment->next = nullptr;
    segment->nb_segs = 1;
    segment->pkt_len = segment->data_len;
    Outcome out{rcv_nxt};
    // Anything before RCV.NXT was delivered already.
    if (seq < rcv_nxt) {
        const auto old = static_cast<std::uint32_t>(rcv_nxt - seq);
        if (old >= segment->data_len) {
            free_one(segment);
            out.dropped = out.duplicate = true;
            return out;
        }
        trim_front(segment, old);
        seq = rcv_nxt;
    }
    if (segment->data_len == 0 && !(fin && seq > rcv_nxt)) {
        free_one(segment);  // an in-order FIN alone is the caller's to process
        return out;
    }
    if (seq == rcv_nxt) {
        append_in_order(segment);
        out.rcv_nxt = drain_held(rcv_nxt + segment->data_len, out.fin_reached);
        return out;
    }

    // Out of order: place it in the sorted list, cut to the gaps between what is held. The bound is
    // checked first, so a refused segment never costs data already held.
    HeldListEntry list = held_list();
    if (list.count >= max_ooo) {
        free_one(segment);
        out.dropped = true;
        return out;
    }
    // Beyond everything held, the usual case while a sender fills the window past a hole: O(1).
    if (list.last != nullptr && seq_of(list.last) + list.last->data_len <= seq) {
        if (fin_follows(list.last)) {  // nothing comes after a FIN
            free_one(segment);
            out.dropped = true;
            return out;
        }
        list.last->next = segment;
        ooo_bytes_ += segment->data_len;
        set_held_list({segment, list.count + 1});
        out.held = true;
        return out;
    }
    // Elsewhere: a walk from the first held segment, as long as the hole is far from RCV.NXT (a
    // retransmission usually fills the first hole, near the front).
    rte_mbuf** link = &ooo_head_;
    while (*link != nullptr && seq_of(*link) + (*link)->data_len <= seq &&
           !(fin_follows(*link) && seq_of(*link) + (*link)->data_len == seq &&
             segment->data_len == 0)) {
        link = &(*link)->next;
    }
    // `*link` is the first held segment that ends after `seq` begins (or the FIN held there).
    if (*link != nullptr && seq_of(*link) <= seq) {
        // Overlaps its front with a held one: the first bytes received are kept (and nothing
        // after a held FIN exists to keep).
        const SeqNum held_end = seq_of(*link) + (*link)->data_len;
        const auto covered = static_cast<std::uint32_t>(held_end - seq);
        if (covered >= segment->data_len || fin_follows(*link)) {
            const bool whole = covered >= segment->data_len;
            if (fin && whole && held_end == seq + segment->data_len)
                set_fin_follows(*link, true);
            free_one(segment);
            out.dropped = true;
            out.duplicate = whole && segment->data_len > 0;
            return out;
        }
        trim_front(segment, covered);
        seq = held_end;
        link = &(*link)->next;
    }
    // Drop held segments the new one covers entirely; cut its tail at the next held one. A held
    // FIN inside the new segment's range ends it there.
    SeqNum end = seq + segment->data_len;
    while (*link != nullptr && seq_of(*link) + (*link)->data_len <= end) {
        rte_mbuf* covered = *link;
        const bool covered_fin = fin_follows(covered);
        const SeqNum covered_end = seq_of(covered) + covered->data_len;
        *link = covered->next;
        ooo_bytes_ -= covered->data_len;
        list.count -= 1;
        free_one(covered);
        if (covered_fin) {
            trim_back(segment, static_cast<std::uint32_t>(end - covered_end));
            set_fin_follows(segment, true);
            end = covered_end;
            break;
        }
    }
    if (*link != nullptr && seq_of(*link) < end) {
        trim_back(segment, static_cast<std::uint32_t>(end - seq_of(*link)));
        set_fin_follows(segment, false);  // data the peer sent again lies beyond: no FIN here
    }
    segment->next = *link;
    *link = segment;
    ooo_bytes_ += segment->data_len;
    if (segment->next == nullptr)
        list.last = segment;
    set_held_list({list.last, list.count + 1});
    out.held = true;
    return out;
}

HeldListEntry ReceiveQueue::held_list() const {
    if (ooo_head_ == nullptr)
        return {nullptr, 0};
    return queue_field(ooo_head_).held;
}

void ReceiveQueue::set_held_list(HeldListEntry e) {
    if (ooo_head_ != nullptr)
        queue_field(ooo_head_).held = e;
}

SeqNum ReceiveQueue::drain_held(SeqNum rcv_nxt, bool& fin_reached) {
    HeldListEntry list = held_list();
    while (ooo_head_ != nullptr && seq_of(ooo_head_) <= rcv_nxt) {
        list.count -= 1;
        rte_mbuf* m = ooo_head_;
        ooo_head_ = m->next;
        ooo_bytes_ -= m->data_len;
        const SeqNum end = seq_of(m) + m->data_len;
        const bool fin = fin_follows(m);
        if (end <= rcv_nxt) {
            free_one(m);
            if (fin && end == rcv_nxt) {
                fin_reached = true;
                break;
            }
            continue;
        }
        trim_front(m, static_cast<std::uint32_t>(rcv_nxt - seq_of(m)));
        append_in_order(m);
        rcv_nxt = end;
        if (fin) {
            fin_reached = true;
            break;
        }
    }
    if (fin_reached) {
        // Nothing follows a FIN: whatever else was held was never sent as such.
        while (ooo_head_ != nullptr) {
            rte_mbuf* next = ooo_head_->next;
            ooo_bytes_ -= ooo_head_->data_len;
            free_one(ooo_head_);
            ooo_head_ = next;
        }
    }
    set_held_list(list);  // the new first mbuf, if any, carries it now
    return rcv_nxt;
}

std::size_t ReceiveQueue::sack_blocks(std::span<SackRange> out, SeqNum recent) const {
    if (out.empty())
        return 0;
    // One walk, keeping the run holding `recent` and the highest runs in a ring of out.size().
    constexpr std::size_t kMax = 4;
    std::array<SackRange, kMax> highest{};
    const std::size_t room = std::min(out.size(), kMax);
    std::size_t seen = 0;  // runs found
    std::optional<SackRange> recent_run;
    std::optional<SackRange> run;
    const auto close_run = [&] {
        if (!run)
            return;
        if (run->left <= recent && recent < run->right)
            recent_run = run;
        else
            highest[seen++ % room] = *run;
        run.reset();
    };
    for (const rte_mbuf* m = ooo_head_; m != nullptr; m = m->next) {
        if (m->data_len == 0)
            continue;  // a FIN alone is not data to SACK
        const SeqNum start = seq_of(m);
        const SeqNum end = start + m->data_len;
        if (run && run->right == start) {
            run->right = end;
        } else {
            close_run();
            run = SackRange{start, end};
        }
    }
    close_run();
    // RFC 2018 4: the block holding the most recently received segment first, then the blocks
    // reported before it. Those are not remembered (no TCB room); the highest come next, from
    // the top down, which is the order a sender's segments arrive in and so nearly always the
    // order they were reported in.
    std::size_t n = 0;
    if (recent_run)
        out[n++] = *recent_run;
    const std::size_t kept = std::min(seen, room);
    for (std::size_t i = 0; i < kept && n < out.size(); ++i)
        out[n++] = highest[(seen - 1 - i) % room];
    return n;
}

std::uint32_t ReceiveQueue::out_of_order_segments() const {
    return held_list().count;
}

rte_mbuf* ReceiveQueue::pop() {
    rte_mbuf* m = head_;
    if (m == nullptr)
        return nullptr;
    head_ = m->next;
    if (head_ == nullptr)
        tail_ = nullptr;
    m->next = nullptr;
    m->nb_segs = 1;
    m->pkt_len = m->data_len;
    in_order_bytes_ -= m->data_len;
    return m;
}

std::uint32_t ReceiveQueue::read(std::span<std::byte> out) {
    std::uint32_t copied = 0;
    while (head_ != nullptr && copied < out.size()) {
        const auto n =
            static_cast<std::uint32_t>(std::min<std::size_t>(head_->data_len, out.size() - copied));
        std::memcpy(out.data() + copied, rte_pktmbuf_mtod(head_, const std::byte*), n);
        copied += n;
        in_order_bytes_ -= n;
        if (n == head_->data_len) {
            rte_mbuf* next = head_->next;
            free_one(head_);
            head_ = next;
            if (head_ == nullptr)
                tail_ = nullptr;
        } else {
            head_->data_off = static_cast<std::uint16_t>(head_->data_off + n);
            head_->data_len = static_cast<std::uint16_t>(head_->data_len - n);
            head_->pkt_len = head_->data_len;
        }
    }
    return copied;
}

std::uint32_t ReceiveQueue::peek(std::span<std::byte> out) const {
    std::uint32_t copied = 0;
    for (const rte_mbuf* m = head_; m != nullptr && copied < out.size(); m = m->next) {
        const auto n =
            static_cast<std::uint32_t>(std::min<std::size_t>(m->data_len, out.size() - copied));
        std::memcpy(out.data() + copied, rte_pktmbuf_mtod(m, const std::byte*), n);
        copied += n;
    }
    return copied;
}

bool ReceiveQueue::first_held(SeqNum& start, SeqNum& end) const {
    if (ooo_head_ == nullptr)
        return false;
    start = seq_of(ooo_head_);
    end = start + ooo_head_->data_len;
    return true;
}

void ReceiveQueue::clear() {
    for (rte_mbuf** list : {&head_, &ooo_head_}) {
        while (*list != nullptr) {
            rte_mbuf* next = (*list)->next;
            free_one(*list);
            *list = next;
        }
    }
    tail_ = nullptr;
    in_order_bytes_ = ooo_bytes_ = 0;
}

}  // namespace sluice::tcp
