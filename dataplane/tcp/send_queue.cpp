#include "dataplane/tcp/send_queue.hpp"

#include <algorithm>
#include <cstring>

namespace sluice::tcp {

void SendQueue::link(rte_mbuf* segment) {
    segment->next = nullptr;
    segment->nb_segs = 1;
    segment->pkt_len = segment->data_len;
    if (tail_ == nullptr) {
        head_ = tail_ = segment;
    } else {
        tail_->next = segment;
        tail_ = segment;
    }
    bytes_ += segment->data_len;
}

std::uint32_t SendQueue::append_copy(std::span<const std::byte> data, std::uint32_t room,
                                     rte_mempool* pool) {
    std::uint32_t taken = 0;
    const auto wanted = static_cast<std::uint32_t>(std::min<std::size_t>(data.size(), room));
    // Fill the tail's free space first, so that small writes do not each cost an mbuf.
    if (tail_ != nullptr && wanted > 0 && RTE_MBUF_DIRECT(tail_) &&
        rte_mbuf_refcnt_read(tail_) == 1) {
        const std::uint32_t space = rte_pktmbuf_tailroom(tail_);
        const std::uint32_t n = std::min(space, wanted);
        if (n > 0) {
            std::memcpy(rte_pktmbuf_mtod_offset(tail_, std::byte*, tail_->data_len), data.data(),
                        n);
            tail_->data_len = static_cast<std::uint16_t>(tail_->data_len + n);
            tail_->pkt_len = tail_->data_len;
            bytes_ += n;
            taken += n;
        }
    }
    while (taken < wanted) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool);
        if (m == nullptr)
            break;
        const std::uint32_t n = std::min<std::uint32_t>(rte_pktmbuf_tailroom(m), wanted - taken);
        std::memcpy(rte_pktmbuf_mtod(m, std::byte*), data.data() + taken, n);
        m->data_len = static_cast<std::uint16_t>(n);
        link(m);
        taken += n;
    }
    return taken;
}

void SendQueue::append_chain(rte_mbuf* chain) {
    while (chain != nullptr) {
        rte_mbuf* next = chain->next;
        if (chain->data_len == 0) {
            rte_pktmbuf_free_seg(chain);
        } else {
            link(chain);
        }
        chain = next;
    }
}

void SendQueue::consume(std::uint32_t n) {
    n = std::min(n, bytes_);
    const std::uint32_t consumed = n;
    while (n > 0) {
        if (head_->data_len <= n) {
            n -= head_->data_len;
            bytes_ -= head_->data_len;
            rte_mbuf* next = head_->next;
            if (cursor_ == head_)
                cursor_ = nullptr;
            head_->next = nullptr;
            rte_pktmbuf_free_seg(head_);
            head_ = next;
        } else {
            head_->data_off = static_cast<std::uint16_t>(head_->data_off + n);
            head_->data_len = static_cast<std::uint16_t>(head_->data_len - n);
            head_->pkt_len = head_->data_len;
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

void SendQueue::copy_out(std::uint32_t offset, std::uint32_t length, std::byte* out) {
    rte_mbuf* m = head_;
    std::uint32_t start = 0;
    if (cursor_ != nullptr && cursor_offset_ <= offset) {
        m = cursor_;
        start = cursor_offset_;
    }
    while (m != nullptr && start + m->data_len <= offset) {
        start += m->data_len;
        m = m->next;
    }
    while (length > 0 && m != nullptr) {
        cursor_ = m;
        cursor_offset_ = start;
        const std::uint32_t within = offset - start;
        const std::uint32_t n = std::min<std::uint32_t>(m->data_len - within, length);
        std::memcpy(out, rte_pktmbuf_mtod_offset(m, const std::byte*, within), n);
        out += n;
        offset += n;
        length -= n;
        start += m->data_len;
        m = m->next;
    }
}

void SendQueue::clear() {
    while (head_ != nullptr) {
        rte_mbuf* next = head_->next;
        head_->next = nullptr;
        rte_pktmbuf_free_seg(head_);
        head_ = next;
    }
    tail_ = cursor_ = nullptr;
    bytes_ = 0;
    cursor_offset_ = 0;
}

}  // namespace sluice::tcp
