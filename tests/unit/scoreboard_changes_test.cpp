// TcpStack keeps the scoreboard's last verdict and gives it again while nothing it was made from
// has changed (loss_recovery.cpp, assess_scoreboard()); part of that is SendQueue::changes(),
// which every change to what SendQueue::assess() reads must move. A change that forgot to would
// leave a stale verdict: the lost segments, the pipe and PRR's window of an earlier moment.
#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "dataplane/tcp/queue_field.hpp"
#include "dataplane/tcp/send_queue.hpp"
#include "tests/support/eal_environment.hpp"

namespace sluice::test {
namespace {

using tcp::SendQueue;

class ScoreboardChanges : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(tcp::register_queue_field());
        const std::vector<std::byte> data(10 * kSegment);
        ASSERT_EQ(queue.append_copy(data, 1U << 20, kSegment, packet_pool()), 10 * kSegment);
        seen = SendQueue::changes();
    }
    void TearDown() override { queue.clear(); }

    // Whether the count of mark changes / of sends moved since the last look.
    bool marks_moved() { return look().marks; }
    bool sends_moved() { return look().sends; }

    static constexpr std::uint32_t kSegment = 1000;
    SendQueue queue;

  private:
    struct Moved {
        bool marks, sends;
    };
    Moved look() {
        const SendQueue::ChangeCount now = SendQueue::changes();
        const Moved m{now.marks != seen.marks, now.sends != seen.sends};
        seen = now;
        return m;
    }
    SendQueue::ChangeCount seen;
};

TEST_F(ScoreboardChanges, EveryChangeAssessReadsMovesTheCount) {
    queue.note_sent(0, 10 * kSegment, 100, /*retransmission=*/false);
    EXPECT_TRUE(sends_moved()) << "first sends";
    queue.note_sent(0, kSegment, 200, /*retransmission=*/true);
    EXPECT_TRUE(sends_moved()) << "a retransmission";

    SendQueue::Delivery d;
    queue.mark_sacked(2 * kSegment, 4 * kSegment, {}, 300, 0, d);
    ASSERT_EQ(d.bytes, 2 * kSegment);
    EXPECT_TRUE(marks_moved()) << "SACK marks";

    queue.consume(kSegment);
    EXPECT_TRUE(marks_moved()) << "data acknowledged";
    queue.forget_transmissions();
    EXPECT_TRUE(marks_moved()) << "send times forgotten after a timeout";
    queue.clear_marks();
    EXPECT_TRUE(marks_moved()) << "SACK marks forgotten after a second timeout";
}

// Judging the scoreboard changes nothing another judgement would read differently, and a queue
// that only grows at its unsent end leaves what was sent as it was: neither moves the count.
TEST_F(ScoreboardChanges, JudgingAndAppendingDoNotMoveIt) {
    queue.note_sent(0, 5 * kSegment, 100, /*retransmission=*/false);
    marks_moved();  // from here on
    SendQueue::LossRules rules;
    rules.sacked_above = 2 * kSegment;
    rules.now_us = 1000;
    const SendQueue::Assessment first = queue.assess(5 * kSegment, rules);
    const std::vector<std::byte> more(kSegment);
    ASSERT_EQ(queue.append_copy(more, 1U << 20, kSegment, packet_pool()), kSegment);
    EXPECT_FALSE(marks_moved());
    EXPECT_FALSE(sends_moved());
    const SendQueue::Assessment again = queue.assess(5 * kSegment, rules);
    EXPECT_EQ(again.pipe, first.pipe);
    EXPECT_EQ(again.sacked, first.sacked);
}

}  // namespace
}  // namespace sluice::test
