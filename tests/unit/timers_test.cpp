// The worker's timing pieces on their own: the timer wheel (rounding, deadlines beyond one turn,
// postponing without relinking, tick numbers that wrap at 2^32), 32-bit clock stamps, and the
// delayed-ACK queue.
#include "dataplane/tcp/delayed_ack_queue.hpp"
#include "dataplane/timers/clock.hpp"
#include "dataplane/timers/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace sluice {
namespace {

using namespace std::chrono_literals;

// A wheel driven by hand: fired() lists the owners of the entries that expired, in order.
class Wheel {
  public:
    explicit Wheel(Nanos start = Nanos{0}) : now_(start), wheel_(start) {}
    void advance_to(Nanos t) {
        now_ = t;
        wheel_.advance(now_, [this](TimerEntry& e) { fired_.push_back(e.owner); });
    }
    void advance(Nanos by) { advance_to(now_ + by); }
    std::vector<std::uint32_t> take() { return std::exchange(fired_, {}); }
    Nanos now() const { return now_; }
    TimerWheel& wheel() { return wheel_; }

  private:
    Nanos now_;
    TimerWheel wheel_;
    std::vector<std::uint32_t> fired_;
};

TEST(TimerWheelTest, FiresAtTheDeadlineRoundedUpToATick) {
    Wheel w;
    TimerEntry e;
    e.owner = 7;
    w.wheel().schedule(e, 2500us);  // rounds up to 3 ms: never early
    w.advance_to(2ms);
    EXPECT_TRUE(w.take().empty());
    w.advance_to(3ms);
    EXPECT_EQ(w.take(), std::vector<std::uint32_t>{7});
    EXPECT_FALSE(e.armed());
    EXPECT_EQ(w.wheel().armed_count(), 0u);
}

TEST(TimerWheelTest, ADeadlineBeyondOneTurnWaitsForItsTurn) {
    Wheel w;
    TimerEntry e;
    e.owner = 1;
    w.wheel().schedule(e, 4096ms + 5ms);  // 4096 slots of 1 ms: slot 5, one turn later
    w.advance_to(5ms);
    EXPECT_TRUE(w.take().empty());
    w.advance_to(4100ms);
    EXPECT_TRUE(w.take().empty());
    w.advance_to(4101ms);
    EXPECT_EQ(w.take(), std::vector<std::uint32_t>{1});
}

TEST(TimerWheelTest, CancelledEntriesDoNotFire) {
    Wheel w;
    TimerEntry a, b;
    a.owner = 1;
    b.owner = 2;
    w.wheel().schedule(a, 10ms);
    w.wheel().schedule(b, 10ms);
    w.wheel().cancel(a);
    w.advance_to(10ms);
    EXPECT_EQ(w.take(), std::vector<std::uint32_t>{2});
}

TEST(TimerWheelTest, PostponedEntryFiresAtItsNewDeadlineNotTheOld) {
    Wheel w;
    TimerEntry e;
    e.owner = 3;
    w.wheel().schedule(e, 10ms);
    w.wheel().postpone(e, 25ms);
    w.advance_to(10ms);
    EXPECT_TRUE(w.take().empty()) << "the old slot's visit moves it on";
    EXPECT_TRUE(e.armed());
    w.advance_to(24ms);
    EXPECT_TRUE(w.take().empty());
    w.advance_to(25ms);
    EXPECT_EQ(w.take(), std::vector<std::uint32_t>{3});
}

TEST(TimerWheelTest, PostponedManyTimesFiresOnceAtTheLast) {
    Wheel w;
    TimerEntry e;
    e.owner = 4;
    w.wheel().schedule(e, 200ms);
    for (int i = 1; i <= 100; ++i) {
        w.advance(10ms);
        w.wheel().postpone(e, w.now() + 200ms);  // an ACK every 10 ms restarts a 200 ms timer
    }
    EXPECT_TRUE(w.take().empty());
    w.advance(199ms);
    EXPECT_TRUE(w.take().empty());
    w.advance(1ms);
    EXPECT_EQ(w.take(), std::vector<std::uint32_t>{4});
}

TEST(TimerWheelTest, PostponingToAnEarlierDeadlineMovesTheEntry) {
    Wheel w;
    TimerEntry e;
    e.owner = 5;
    w.wheel().schedule(e, 100ms);
    w.wheel().postpone(e, 20ms);
    w.advance_to(20ms);
    EXPECT_EQ(w.take(), std::vector<std::uint32_t>{5});
}

TEST(TimerWheelTest, PostponingAnUnarmedEntryArmsIt) {
    Wheel w;
    TimerEntry e;
    e.owner = 6;
    w.wheel().postpone(e, 5ms);
    EXPECT_TRUE(e.armed());
    w.advance_to(5ms);
    EXPECT_EQ(w.take(), std::vector<std::uint32_t>{6});
}

// Deadlines are tick numbers modulo 2^32 (49.7 days of 1 ms ticks): a wheel started just before
// the wrap still orders them by distance.
TEST(TimerWheelTest, TickNumbersWrapAround) {
    const Nanos start = std::chrono::milliseconds((std::int64_t{1} << 32) - 5);
    Wheel w(start);
    TimerEntry before, after;
    before.owner = 1;
    after.owner = 2;
    w.wheel().schedule(before, start + 3ms);  // tick 2^32 - 2
    w.wheel().schedule(after, start + 10ms);  // tick 2^32 + 5: stored as 5
    w.advance_to(start + 3ms);
    EXPECT_EQ(w.take(), std::vector<std::uint32_t>{1});
    w.advance_to(start + 9ms);
    EXPECT_TRUE(w.take().empty()) << "tick 5 is not due at tick 2^32 + 4";
    w.advance_to(start + 10ms);
    EXPECT_EQ(w.take(), std::vector<std::uint32_t>{2});
}

TEST(Stamp32Test, AgeIsTheTimeSinceTheStamp) {
    const auto stamp = Stamp32<std::chrono::milliseconds>::at(5s);
    EXPECT_EQ(stamp.age(5s), 0ms);
    EXPECT_EQ(stamp.age(7500ms), 2500ms);
}

TEST(Stamp32Test, AgeSurvivesTheWrapOfItsThirtyTwoBits) {
    // 2^32 microseconds is about 71.6 minutes: a stamp taken just before the wrap.
    const Nanos before_wrap = std::chrono::microseconds((std::int64_t{1} << 32) - 10);
    const auto stamp = Stamp32<std::chrono::microseconds>::at(before_wrap);
    EXPECT_EQ(stamp.age(before_wrap + 30us), 30us);
}

TEST(DelayedAckQueueTest, EntriesComeOutWhenDueOldestFirst) {
    tcp::DelayedAckQueue q(8);
    ASSERT_TRUE(q.push({1, 10, 40ms}));
    ASSERT_TRUE(q.push({2, 20, 41ms}));
    std::vector<std::uint32_t> due;
    const auto collect = [&](const tcp::DelayedAckQueue::Entry& e) { due.push_back(e.slot); };
    q.expire(39ms, collect);
    EXPECT_TRUE(due.empty());
    q.expire(40ms, collect);
    EXPECT_EQ(due, std::vector<std::uint32_t>{1});
    q.expire(50ms, collect);
    EXPECT_EQ(due, (std::vector<std::uint32_t>{1, 2}));
    EXPECT_EQ(q.size(), 0u);
}

TEST(DelayedAckQueueTest, AFullQueueRefusesAndRecoversAsEntriesExpire) {
    tcp::DelayedAckQueue q(4);
    for (std::uint32_t i = 0; i < 4; ++i)
        ASSERT_TRUE(q.push({i, 0, 40ms}));
    EXPECT_FALSE(q.push({9, 0, 40ms})) << "full: the caller ACKs at once";
    q.expire(40ms, [](const tcp::DelayedAckQueue::Entry&) {});
    EXPECT_TRUE(q.push({9, 0, 80ms}));
}

}  // namespace
}  // namespace sluice
