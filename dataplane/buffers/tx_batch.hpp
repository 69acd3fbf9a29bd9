// Frames waiting for one tx queue. Callers push; the batch hands a full burst to the device at once
// and the worker flushes what is left at the end of each loop turn (docs/architecture.md, "The
// worker loop").
//
// Frames the device will not take yet (its ring is full: a burst larger than the ring, or a peer
// slow to drain it) wait in a backlog, in order, and go first at the next flush, as a qdisc
// holds packets for a busy NIC. Dropping them instead costs TCP a loss for every frame over the
// ring's size, and the recovery takes far longer than the wait. Only when the backlog too is full
// is a frame freed and counted (tx_ring_full). The backlog is a fixed array: nothing is allocated.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dataplane/stats/counters.hpp"

namespace sluice {

class TxBatch {
  public:
    static constexpr std::uint16_t kCapacity = 32;
    // Four rings' worth of a typical 256-descriptor queue; a power of two.
    static constexpr std::uint32_t kBacklogCapacity = 1024;

    TxBatch(std::uint16_t port_id, std::uint16_t queue_id, WorkerCounters& counters)
        : port_id_(port_id), queue_id_(queue_id), counters_(counters) {}
    TxBatch(const TxBatch&) = delete;
    TxBatch& operator=(const TxBatch&) = delete;
    // One last try; what the device still will not take is freed and counted.
    ~TxBatch() {
        flush();
        while (backlog_count_ > 0) {
            counters_.drop(DropReason::TxRingFull);
            rte_pktmbuf_free(backlog_[backlog_head_]);
            backlog_head_ = (backlog_head_ + 1) % kBacklogCapacity;
            --backlog_count_;
        }
    }

    void push(rte_mbuf* frame) {
        frames_[count_++] = frame;
        if (count_ == kCapacity)
            flush();
    }

    void flush() {
        if (backlog_count_ > 0) {
            drain_backlog();
            if (backlog_count_ > 0) {
                // The device is still full: the new frames queue behind the old ones.
                for (std::uint16_t i = 0; i < count_; ++i)
                    hold(frames_[i]);
                count_ = 0;
                return;
            }
        }
        if (count_ == 0)
            return;
        const std::uint16_t sent = transmit(frames_.data(), count_);
        for (std::uint16_t i = sent; i < count_; ++i)
            hold(frames_[i]);
        count_ = 0;
    }

    std::uint16_t size() const { return count_; }
    // Frames the device has not taken yet, waiting for the next flush.
    std::uint32_t backlog() const { return backlog_count_; }

  private:
    void hold(rte_mbuf* frame) {
        if (backlog_count_ == kBacklogCapacity) {
            counters_.drop(DropReason::TxRingFull);
            rte_pktmbuf_free(frame);
            return;
        }
        backlog_[(backlog_head_ + backlog_count_) % kBacklogCapacity] = frame;
        ++backlog_count_;
        counters_.tx_deferred += 1;
    }

    // Offers `n` frames to the device and counts what it took; the rest are still the caller's.
    std::uint16_t transmit(rte_mbuf** frames, std::uint16_t n) {
        // Read the lengths now: once tx_burst takes a frame, the device may free it at any time.
        std::uint64_t bytes = 0;
        for (std::uint16_t i = 0; i < n; ++i)
            bytes += frames[i]->pkt_len;
        const std::uint16_t sent = rte_eth_tx_burst(port_id_, queue_id_, frames, n);
        for (std::uint16_t i = sent; i < n; ++i)
            bytes -= frames[i]->pkt_len;  // not taken: still ours to read
        counters_.tx_bytes += bytes;
        counters_.tx_packets += sent;
        return sent;
    }

    // Offers the backlog to the device, oldest first, until it is empty or the device refuses.
    void drain_backlog() {
        while (backlog_count_ > 0) {
            // The longest run that does not wrap around the array, at most a burst.
            const auto run = static_cast<std::uint16_t>(std::min(
                {backlog_count_, kBacklogCapacity - backlog_head_, std::uint32_t{kCapacity}}));
            const std::uint16_t sent = transmit(&backlog_[backlog_head_], run);
            backlog_head_ = (backlog_head_ + sent) % kBacklogCapacity;
            backlog_count_ -= sent;
            if (sent < run)
                break;
        }
    }

    std::uint16_t port_id_;
    std::uint16_t queue_id_;
    WorkerCounters& counters_;
    std::array<rte_mbuf*, kCapacity> frames_{};
    std::uint16_t count_ = 0;
    std::array<rte_mbuf*, kBacklogCapacity> backlog_{};
    std::uint32_t backlog_head_ = 0;
    std::uint32_t backlog_count_ = 0;
};

}  // namespace sluice
