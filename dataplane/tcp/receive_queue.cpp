#include "dataplane/tcp/receive_queue.hpp"

#include <algorithm>
#include <cstring>

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
                                           std::uint16_t max_ooo) {
    segment->hash.usr = seq.raw();
    segment->next = nullptr;
    segment->nb_segs = 1;
    segment->pkt_len = segment->data_len;
    Outcome out{rcv_nxt};
    // Anything before RCV.NXT was delivered already.
    if (seq < rcv_nxt) {
        const auto old = static_cast<std::uint32_t>(rcv_nxt - seq);
        if (old >= segment->data_len) {
            free_one(segment);
            out.dropped = true;
            return out;
        }
        trim_front(segment, old);
        seq = rcv_nxt;
    }
    if (segment->data_len == 0) {
        free_one(segment);
        return out;
    }
    if (seq == rcv_nxt) {
        append_in_order(segment);
        out.rcv_nxt = drain_held(rcv_nxt + segment->data_len);
        return out;
    }

    // Out of order: place it in the sorted list, cut to the gaps between what is held. The bound is
    // checked first, so a refused segment never costs data already held.
    if (out_of_order_segments() >= max_ooo) {
        free_one(segment);
        out.dropped = true;
        return out;
    }
    rte_mbuf** link = &ooo_head_;
    while (*link != nullptr && seq_of(*link) + (*link)->data_len <= seq)
        link = &(*link)->next;
    // `*link` is the first held segment that ends after `seq` begins.
    if (*link != nullptr && seq_of(*link) <= seq) {
        // Overlaps its front with a held one.
        const SeqNum held_end = seq_of(*link) + (*link)->data_len;
        const auto covered = static_cast<std::uint32_t>(held_end - seq);
        if (covered >= segment->data_len) {
            free_one(segment);
            out.dropped = true;
            return out;
        }
        trim_front(segment, covered);
        seq = held_end;
        link = &(*link)->next;
    }
    // Drop held segments the new one covers entirely; cut its tail at the next held one.
    const SeqNum end = seq + segment->data_len;
    while (*link != nullptr && seq_of(*link) + (*link)->data_len <= end) {
        rte_mbuf* covered = *link;
        *link = covered->next;
        ooo_bytes_ -= covered->data_len;
        free_one(covered);
    }
    if (*link != nullptr && seq_of(*link) < end) {
        trim_back(segment, static_cast<std::uint32_t>(end - seq_of(*link)));
    }
    segment->next = *link;
    *link = segment;
    ooo_bytes_ += segment->data_len;
    out.held = true;
    return out;
}

SeqNum ReceiveQueue::drain_held(SeqNum rcv_nxt) {
    while (ooo_head_ != nullptr && seq_of(ooo_head_) <= rcv_nxt) {
        rte_mbuf* m = ooo_head_;
        ooo_head_ = m->next;
        ooo_bytes_ -= m->data_len;
        const auto old = static_cast<std::uint32_t>(rcv_nxt - seq_of(m));
        if (old >= m->data_len) {
            free_one(m);
            continue;
        }
        trim_front(m, old);
        append_in_order(m);
        rcv_nxt = rcv_nxt + m->data_len;
    }
    return rcv_nxt;
}

std::uint32_t ReceiveQueue::out_of_order_segments() const {
    std::uint32_t n = 0;
    for (const rte_mbuf* m = ooo_head_; m != nullptr; m = m->next)
        ++n;
    return n;
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
