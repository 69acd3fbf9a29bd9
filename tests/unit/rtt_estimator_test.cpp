// The retransmission timer's estimator (dataplane/tcp/rtt.hpp): RFC 6298 2's smoothing and
// backoff, and RACK's minimum RTT (RFC 8985 6.1), which follows the path for five minutes, not
// for the life of the connection, and never takes a millisecond clock's sample.
#include <gtest/gtest.h>

#include <chrono>

#include "dataplane/tcp/rtt.hpp"

namespace sluice::tcp {
namespace {

using namespace std::chrono_literals;

constexpr Nanos kStart = 1000s;  // any time: the estimator keeps no absolute clock of its own

TEST(RttEstimator, TheFirstSampleSetsSrttAndHalfOfItAsRttvar) {
    RttEstimator rtt;
    EXPECT_FALSE(rtt.has_sample());
    rtt.sample(8ms, kStart);
    EXPECT_EQ(rtt.srtt(), 8ms);  // RFC 6298 2.2
    EXPECT_EQ(rtt.rttvar(), 4ms);
    EXPECT_EQ(rtt.min_rtt(), 8ms);  // 8000 us is 500 units of 16 us exactly
}

TEST(RttEstimator, LaterSamplesAreSmoothedAsRfc6298Says) {
    RttEstimator rtt;
    rtt.sample(8ms, kStart);
    rtt.sample(16ms, kStart);
    // 2.3: RTTVAR = 3/4 * 4 + 1/4 * |8 - 16| = 5; SRTT = 7/8 * 8 + 1/8 * 16 = 9.
    EXPECT_EQ(rtt.rttvar(), 5ms);
    EXPECT_EQ(rtt.srtt(), 9ms);
    // RTO = SRTT + max(G, 4 RTTVAR) = 29 ms, below the 200 ms floor.
    EXPECT_EQ(rtt.rto(RtoBounds{}), 200ms);
    rtt.back_off();
    EXPECT_EQ(rtt.rto(RtoBounds{}), 400ms);  // 5.5
}

TEST(RttEstimator, AMillisecondClocksSampleLeavesTheMinimumAlone) {
    RttEstimator rtt;
    rtt.sample(300us, kStart);
    rtt.sample_coarse(0ms);  // a timestamp echo on a path shorter than its clock's tick
    EXPECT_EQ(rtt.min_rtt(), 288us) << "300 us in 16 us steps";
    EXPECT_LT(rtt.srtt(), 300us) << "SRTT still takes it";
}

TEST(RttEstimator, TheMinimumFollowsThePathForFiveMinutes) {
    RttEstimator rtt;
    rtt.sample(1024us, kStart);  // 64 units of 16 us
    rtt.sample(10ms, kStart + 100s);
    EXPECT_EQ(rtt.min_rtt(), 1024us) << "a longer sample inside the window does not move it";
    rtt.sample(10ms, kStart + 298s);
    EXPECT_EQ(rtt.min_rtt(), 1024us);
    // Past five minutes the path may have changed: the next sample is the minimum, and smaller
    // ones replace it at once.
    rtt.sample(10ms, kStart + 302s);
    EXPECT_EQ(rtt.min_rtt(), 10ms);
    rtt.sample(6ms, kStart + 303s);
    EXPECT_EQ(rtt.min_rtt(), 6ms);
}

TEST(RttEstimator, AMinimumSeenAgainStaysInTheWindow) {
    RttEstimator rtt;
    rtt.sample(2ms, kStart);
    rtt.sample(2ms, kStart + 200s);  // the same minimum, seen again, is taken anew
    rtt.sample(9ms, kStart + 400s);
    EXPECT_EQ(rtt.min_rtt(), 2ms);
}

TEST(RttEstimator, StaysTwelveBytes) {
    EXPECT_EQ(sizeof(RttEstimator), 12U);
}

}  // namespace
}  // namespace sluice::tcp
