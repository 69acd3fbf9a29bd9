// TxBatch against a real net_ring device whose tx ring is small: what the device cannot take yet
// waits in the backlog and goes, in order, at a later flush; only a full backlog drops, counted;
// nothing is leaked, also when the batch is destroyed with frames still waiting.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "dataplane/buffers/tx_batch.hpp"
#include "tests/support/eal_environment.hpp"
#include "tests/support/ring_port.hpp"

namespace sluice::test {
namespace {

constexpr unsigned kRingSize = 64;  // 63 usable slots
constexpr unsigned kRingUsable = kRingSize - 1;
constexpr std::size_t kFrameLength = 60;

// A frame whose first two bytes carry its number.
rte_mbuf* numbered_frame(unsigned n) {
    std::vector<std::byte> bytes(kFrameLength, std::byte{0});
    bytes[0] = static_cast<std::byte>(n >> 8);
    bytes[1] = static_cast<std::byte>(n & 0xff);
    return make_mbuf(bytes);
}

unsigned number_of(const std::vector<std::byte>& frame) {
    return (std::to_integer<unsigned>(frame[0]) << 8) | std::to_integer<unsigned>(frame[1]);
}

class TxBatchTest : public ::testing::Test {
  protected:
    void SetUp() override { mbufs_before_ = mbufs_in_use(); }
    void TearDown() override {
        batch_.reset();
        port_.take_transmitted();
        EXPECT_EQ(mbufs_in_use(), mbufs_before_) << "mbufs leaked";
    }
    void push_numbered(unsigned from, unsigned count) {
        for (unsigned n = from; n < from + count; ++n)
            batch_->push(numbered_frame(n));
    }
    // Empties the device's ring and returns the frames' numbers, in the order they were sent.
    std::vector<unsigned> transmitted() {
        std::vector<unsigned> numbers;
        for (const auto& frame : port_.take_transmitted())
            numbers.push_back(number_of(frame));
        return numbers;
    }
    static std::vector<unsigned> numbers(unsigned from, unsigned count) {
        std::vector<unsigned> out;
        for (unsigned n = from; n < from + count; ++n)
            out.push_back(n);
        return out;
    }

    RingPort port_{true, kRingSize};
    WorkerCounters counters_;
    std::unique_ptr<TxBatch> batch_ = std::make_unique<TxBatch>(port_.port_id(), 0, counters_);
    unsigned mbufs_before_ = 0;
};

TEST_F(TxBatchTest, FramesTheDeviceCannotTakeYetWaitAndGoInOrder) {
    push_numbered(0, 100);
    batch_->flush();
    EXPECT_EQ(counters_.tx_packets, kRingUsable);
    EXPECT_EQ(batch_->backlog(), 100 - kRingUsable);
    EXPECT_EQ(counters_.tx_deferred, 100 - kRingUsable);
    EXPECT_EQ(counters_.dropped(DropReason::TxRingFull), 0u);
    EXPECT_EQ(transmitted(), numbers(0, kRingUsable));

    // Frames pushed now queue behind the backlog.
    push_numbered(100, 5);
    batch_->flush();
    EXPECT_EQ(batch_->backlog(), 0u);
    EXPECT_EQ(transmitted(), numbers(kRingUsable, 105 - kRingUsable));
    EXPECT_EQ(counters_.tx_packets, 105u);
    EXPECT_EQ(counters_.tx_bytes, 105u * kFrameLength);
}

TEST_F(TxBatchTest, AFullBacklogDropsWhatComesAfterAndCountsIt) {
    const unsigned total = kRingUsable + TxBatch::kBacklogCapacity + 10;
    push_numbered(0, total);
    batch_->flush();
    EXPECT_EQ(batch_->backlog(), TxBatch::kBacklogCapacity);
    EXPECT_EQ(counters_.dropped(DropReason::TxRingFull), 10u);
    // The first frames went and the backlog kept the ones after them; the last ten were dropped.
    std::vector<unsigned> sent = transmitted();
    while (batch_->backlog() > 0) {
        batch_->flush();
        for (unsigned n : transmitted())
            sent.push_back(n);
    }
    EXPECT_EQ(sent, numbers(0, total - 10));
}

TEST_F(TxBatchTest, WhatTheDeviceNeverTakesIsFreedAndCountedAtTheEnd) {
    push_numbered(0, kRingUsable + 5);
    batch_->flush();
    EXPECT_EQ(batch_->backlog(), 5u);
    batch_.reset();  // the ring is still full: the five cannot go
    EXPECT_EQ(counters_.dropped(DropReason::TxRingFull), 5u);
    EXPECT_EQ(transmitted(), numbers(0, kRingUsable));
}

}  // namespace
}  // namespace sluice::test
