// Frames waiting for one tx queue. Callers push; the batch hands a full burst to the device at once
// and the worker flushes what is left at the end of each loop (STYLE.md: batched tx drain). Frames
// the device will not take are freed and counted, never retried forever.
#pragma once

#include <array>
#include <cstdint>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dataplane/stats/counters.hpp"

namespace sluice {

class TxBatch {
public:
    static constexpr std::uint16_t kCapacity = 32;

    TxBatch(std::uint16_t port_id, std::uint16_t queue_id, WorkerCounters& counters)
        : port_id_(port_id), queue_id_(queue_id), counters_(counters) {}
    TxBatch(const TxBatch&) = delete;
    TxBatch& operator=(const TxBatch&) = delete;
    ~TxBatch() { flush(); }

    void push(rte_mbuf* frame) {
        // Read the length now: once tx_burst takes the frame, the device may free it at any time.
        lengths_[count_] = frame->pkt_len;
        frames_[count_++] = frame;
        if (count_ == kCapacity) flush();
    }

    void flush() {
        if (count_ == 0) return;
        const std::uint16_t sent = rte_eth_tx_burst(port_id_, queue_id_, frames_.data(), count_);
        for (std::uint16_t i = 0; i < sent; ++i) counters_.tx_bytes += lengths_[i];
        counters_.tx_packets += sent;
        for (std::uint16_t i = sent; i < count_; ++i) {
            counters_.drop(DropReason::TxRingFull);
            rte_pktmbuf_free(frames_[i]);
        }
        count_ = 0;
    }

    std::uint16_t size() const { return count_; }

private:
    std::uint16_t port_id_;
    std::uint16_t queue_id_;
    WorkerCounters& counters_;
    std::array<rte_mbuf*, kCapacity> frames_{};
    std::array<std::uint32_t, kCapacity> lengths_{};
    std::uint16_t count_ = 0;
};

}  // namespace sluice
