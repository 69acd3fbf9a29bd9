// Pacing from the timer wheel (pacer.hpp): after an idle period longer than an RTO, CUBIC spreads
// its window over one smoothed RTT, a quantum per wheel tick after an initial window at once;
// NewReno starts again from RFC 5681 4.1's restart window; a short RTT or a short pause leave
// the window to go at once, as before.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/loss_recovery_fixture.hpp"

namespace sluice::test {
namespace {

using namespace loss;

class Pacing : public LossRecovery {
  protected:
    // A connection whose handshake took `rtt`; ten segments sent and acknowledged a round trip
    // later (slow start then doubles the window to twenty), then `pause` without a segment.
    api::Connection sent_then_idle(Algorithm a, Nanos rtt, Nanos pause) {
        start_with(a);
        handshake_rtt = rtt;
        auto c = establish_passive(syn_options(kMss, /*sack=*/true));
        tx = Transmissions(our_seq);
        send(c, 10 * kMss);
        EXPECT_EQ(tx.see(take()).size(), 10u);
        advance(rtt);
        ack(10 * kMss);
        take();
        window = info_of(c).cwnd;
        EXPECT_EQ(window, 20 * kMss) << "slow start: one segment more per segment acknowledged";
        advance(pause);
        take();
        return c;
    }
    // After that, sixty segments queued: the whole window leaves at once, unpaced.
    void expect_window_at_once(Algorithm a, Nanos rtt, Nanos pause) {
        auto c = sent_then_idle(a, rtt, pause);
        send(c, 60 * kMss, 10 * kMss);
        EXPECT_EQ(tx.see(take()).size(), window / kMss);
        EXPECT_EQ(counters_.tcp_paced_windows, 0u);
    }
    Transmissions tx{0};
    std::uint32_t window = 0;
};

// 40 ms of RTT, 2 s idle (the RTO is 200 ms at least): sixty segments queued, the window is
// twenty. Ten go at once (RFC 6928's initial window), then two per 1 ms tick (the window's rate,
// 20 segments per 40 ms, is half a segment per tick; a quantum is two segments at least) until
// the window is out; once that window is acknowledged, the ACK clock runs again and the next
// window goes at once.
TEST_F(Pacing, CubicSpreadsTheWindowAfterIdleOverTicks) {
    auto c = sent_then_idle(Algorithm::Cubic, 40ms, 2s);
    send(c, 60 * kMss, 10 * kMss);
    EXPECT_EQ(tx.see(take()).size(), 10u) << "an initial window at once";
    EXPECT_EQ(counters_.tcp_paced_windows, 1u);
    std::uint32_t ticks = 0;
    while (tx.end() < 10 * kMss + window && ticks < 100) {
        advance(1ms);
        ++ticks;
        const auto sent = tx.see(take());
        EXPECT_LE(sent.size(), 2u) << "tick " << ticks;
    }
    EXPECT_EQ(tx.end(), 10 * kMss + window) << "the whole window, paced";
    EXPECT_EQ(ticks, 5u) << "ten more segments, two per tick";
    EXPECT_GE(counters_.tcp_pacing_releases, 5u);
    advance(5ms);
    EXPECT_TRUE(tx.see(take()).empty()) << "nothing beyond the window";
    EXPECT_TRUE(tx.retransmitted().empty());

    advance(30ms);
    ack(10 * kMss + window);
    EXPECT_GT(tx.see(take()).size(), 2u) << "the ACK clock again: no pacing";
    EXPECT_EQ(counters_.tcp_paced_windows, 1u);
}

// The same with NewReno, which does not pace: RFC 5681 4.1's restart window, min(IW, cwnd), ten
// segments at once and no more until ACKs come; the window regrows from there by slow start
// (ssthresh is still arbitrarily high).
TEST_F(Pacing, NewRenoStartsAgainFromTheRestartWindow) {
    auto c = sent_then_idle(Algorithm::NewReno, 40ms, 2s);
    send(c, 60 * kMss, 10 * kMss);
    EXPECT_EQ(tx.see(take()).size(), 10u) << "the restart window";
    EXPECT_EQ(info_of(c).cwnd, 10 * kMss);
    EXPECT_EQ(counters_.tcp_restart_windows, 1u);
    EXPECT_EQ(counters_.tcp_paced_windows, 0u);
    advance(5ms);
    EXPECT_TRUE(tx.see(take()).empty()) << "nothing more until an ACK";
    advance(35ms);
    ack(20 * kMss);
    EXPECT_EQ(tx.see(take()).size(), 20u) << "slow start: two for each acknowledged";
    EXPECT_EQ(counters_.tcp_restart_windows, 1u) << "once per idle period";
}

// A pause shorter than the RTO is no idle period for NewReno either.
TEST_F(Pacing, NewRenoKeepsItsWindowAfterAShortPause) {
    expect_window_at_once(Algorithm::NewReno, 40ms, 100ms);
}

// A pause shorter than the RTO is no idle period; an RTT of a tick or two cannot be paced by a
// 1 ms wheel. Both send the window at once.
TEST_F(Pacing, AShortPauseIsNotPaced) {
    expect_window_at_once(Algorithm::Cubic, 40ms, 100ms);
}

TEST_F(Pacing, AShortRttIsNotPaced) {
    expect_window_at_once(Algorithm::Cubic, 2ms, 2s);
}

}  // namespace
}  // namespace sluice::test
