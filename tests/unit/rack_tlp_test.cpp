// RACK-TLP (RFC 8985) segment by segment with a manual clock (docs/loss-recovery.md): the
// reordering window and its timer, reordering that turns DupThresh off, D-SACKs that widen the
// window, a lost retransmission found without a timeout, the tail loss probe (new data beyond the
// congestion window, or the last segment again) and the hole behind it found by the probe's
// answer, RTT samples from send times (with timestamps too), and the window cut undone
// when D-SACKs show a recovery resent only what had arrived (RFC 3708).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <vector>

#include "tests/support/loss_recovery_fixture.hpp"

namespace sluice::test {
namespace {

using namespace loss;
using Offsets = std::vector<std::uint32_t>;

class RackTlp : public LossRecovery {
  protected:
    // A SACK connection (SACK off if asked) whose handshake took kRtt, so that srtt is kRtt and
    // RACK's reordering window a quarter of it; `n` bytes queued, the first ten segments sent
    // (the initial window) and seen by `tx`.
    api::Connection start_sending(std::uint32_t n, bool sack = true) {
        start_with(Algorithm::NewReno);
        handshake_rtt = kRtt;
        auto c = establish_passive(syn_options(kMss, sack));
        EXPECT_EQ(info_of(c).sack, sack);
        EXPECT_EQ(info_of(c).srtt, kRtt);
        send(c, n);
        tx = Transmissions(our_seq);
        EXPECT_EQ(tx.see(take()).size(), std::min<std::uint32_t>(n / kMss, 10));
        return c;
    }
    // A round trip after the first ten left, 0 is missing and 1 to 4 are SACKed: four SACKed
    // above it make 0 lost (RFC 6675 IsLost), and recovery begins by resending it.
    void lose_segment_0(api::Connection c) {
        advance(kRtt);
        ack(0, {{kMss, 5 * kMss}});
        ASSERT_TRUE(info_of(c).in_recovery);
        const auto sent = tx.see(take());
        ASSERT_FALSE(sent.empty());
        EXPECT_EQ(sent.front(), 0u) << "the fast retransmit";
    }
    Transmissions tx{0};
};

// RFC 8985 6.2 step 5 and 6.3: a segment sent before one that arrived is lost only once it has
// been out for RACK.rtt plus the reordering window (a quarter of the RTT here); the timer waits
// the rest out, with no timeout and no third duplicate ACK.
TEST_F(RackTlp, ASegmentIsLostOnceTheReorderingWindowHasPassed) {
    auto c = start_sending(12 * kMss);
    ASSERT_EQ(info_of(c).reorder_window, Nanos{kRtt} / 4);
    advance(kRtt);

    ack(0, {{kMss, 2 * kMss}});  // 1 arrived, 0 not yet
    EXPECT_EQ(tx.see(take()), Offsets{10 * kMss}) << "limited transmit; 0 is not overdue yet";
    advance(2ms);
    EXPECT_TRUE(tx.see(take()).empty()) << "2 ms into a 2.5 ms reordering window";
    advance(1ms);
    EXPECT_EQ(tx.see(take()), Offsets{0}) << "the reordering timer fired";
    EXPECT_TRUE(info_of(c).in_recovery);
    EXPECT_EQ(counters_.tcp_recoveries, 1u);
    EXPECT_EQ(counters_.tcp_timeouts, 0u);
}

// The same hole filled inside the window: nothing is retransmitted, and the late segment shows
// the path reorders (RFC 8985 6.2 step 3). From then on three SACKed segments above a hole no
// longer make it lost: only RACK's clock does.
TEST_F(RackTlp, OnceThePathReordersDupThreshNoLongerDecides) {
    auto c = start_sending(30 * kMss);
    advance(kRtt);

    ack(0, {{kMss, 2 * kMss}});
    EXPECT_EQ(tx.see(take()), Offsets{10 * kMss});
    EXPECT_FALSE(info_of(c).reordering_seen);
    ack(2 * kMss);  // 0 arrives after 1: overtaken, not lost
    EXPECT_TRUE(info_of(c).reordering_seen);
    tx.see(take());
    advance(5ms);
    EXPECT_TRUE(tx.retransmitted().empty()) << "the reordering timer found nothing lost";

    // 2 missing, 3 to 5 arrived: RFC 6675's IsLost would say 2 is lost; RACK waits.
    ack(2 * kMss, {{3 * kMss, 6 * kMss}});
    tx.see(take());
    EXPECT_TRUE(tx.retransmitted().empty());
    EXPECT_FALSE(info_of(c).in_recovery);
    advance(1ms);
    tx.see(take());
    EXPECT_TRUE(tx.retransmitted().empty()) << "still inside the reordering window";
    advance(kRtt);
    tx.see(take());
    EXPECT_EQ(tx.retransmitted(), (std::map<std::uint32_t, int>{{2 * kMss, 1}}));
    EXPECT_EQ(counters_.tcp_timeouts, 0u);
}

// RFC 8985 6.2 step 3 judges what an ACK acknowledges cumulatively against RACK's point before
// that ACK: 0 and 1 acknowledged, 2 lost and 3 SACKed by the same ACK is the ordinary shape of a
// loss (the peer's delayed ACK for 1 leaves with its first duplicate), not 0 and 1 overtaken by
// 3. Taken for reordering, it would turn DupThresh off for the rest of the connection.
TEST_F(RackTlp, AnAckThatAlsoSacksAboveAHoleShowsNoReordering) {
    auto c = start_sending(20 * kMss);
    advance(kRtt);
    ack(2 * kMss, {{3 * kMss, 4 * kMss}});
    EXPECT_FALSE(info_of(c).reordering_seen);
    tx.see(take());
    ack(2 * kMss, {{3 * kMss, 6 * kMss}});  // three SACKed above 2: lost by DupThresh at once
    EXPECT_TRUE(info_of(c).in_recovery);
    tx.see(take());
    EXPECT_EQ(tx.retransmitted(), (std::map<std::uint32_t, int>{{2 * kMss, 1}}));
}

// With timestamps too, an ACK is timed from the send time in microseconds: the echo counts
// milliseconds, and on a path of 300 us it says 0, which as RACK's minimum RTT would leave no
// reordering window at all (RFC 8985 6.2 step 4). The echo times only what was sent twice.
TEST_F(RackTlp, WithTimestampsAcksAreStillTimedInMicroseconds) {
    start_with(Algorithm::NewReno);
    handshake_rtt = 300us;
    auto c = establish_passive(syn_options(kMss, /*sack=*/true, /*timestamps=*/true));
    ASSERT_EQ(info_of(c).srtt, 300us);
    send(c, 4 * kMss);
    const auto sent = take();
    ASSERT_FALSE(sent.empty());
    ASSERT_TRUE(sent.front().tcp.options.timestamps.has_value());
    advance(300us);
    wire::TcpOptions o;
    o.timestamps = wire::TcpTimestamps{200, sent.front().tcp.options.timestamps->value};
    inject(Seg{.seq = peer_seq, .ack = our_seq + 2 * kMss, .options = o, .source_port = peer_port});
    EXPECT_EQ(info_of(c).srtt, 300us) << "a 300 us sample, not the echo's 0 ms";
    // The minimum is kept in steps of 16 us (288 us here), the window a quarter of it.
    EXPECT_EQ(info_of(c).reorder_window, 72us);
}

// RFC 8985 6.2 step 4: a D-SACK (the original and the retransmission both arrived) widens the
// reordering window by a quarter RTT; DupThresh stays where it was.
TEST_F(RackTlp, ADSackWidensTheReorderingWindow) {
    auto c = start_sending(20 * kMss);
    lose_segment_0(c);
    ASSERT_EQ(counters_.tcp_fast_retransmits, 1u);
    const auto before = info_of(c).reorder_window;
    // 0 was only late: the peer got the original and then the retransmission, and says so.
    ack(5 * kMss, {{0, kMss}});
    EXPECT_EQ(counters_.tcp_dsack_received, 1u);
    EXPECT_EQ(info_of(c).reorder_window, before + Nanos{kRtt} / 4);
    // Once per recovery: a second D-SACK for the same episode changes nothing.
    ack(5 * kMss, {{0, kMss}});
    EXPECT_EQ(info_of(c).reorder_window, before + Nanos{kRtt} / 4);
}

// RFC 8985 6.2: a retransmission that is lost too is found when a segment sent after it arrives
// and it has been out for RACK.rtt; it goes again without waiting for the retransmission timer.
TEST_F(RackTlp, ALostRetransmissionIsFoundWithoutATimeout) {
    auto c = start_sending(30 * kMss);
    advance(kRtt);

    // 0 lost: the fast retransmit, and (PRR, RFC 9937 5: half of the four segments delivered,
    // NewReno halving the window) one new segment.
    ack(0, {{kMss, 5 * kMss}});
    EXPECT_EQ(tx.see(take()), (Offsets{0, 10 * kMss}));
    ASSERT_TRUE(info_of(c).in_recovery);
    advance(kRtt);
    // 5 to 9 arrive, but not the retransmission of 0: the pipe has room for new data.
    ack(0, {{kMss, 10 * kMss}});
    const auto fresh = tx.see(take());
    ASSERT_FALSE(fresh.empty());
    EXPECT_GE(fresh.front(), 10 * kMss) << "only new data: 0's retransmission is not overdue";
    advance(kRtt);
    // New data sent after the retransmission arrives; the retransmission has been out for two
    // round trips. It was lost, and goes again.
    ack(0, {{kMss, fresh.front() + kMss}});
    const auto again = tx.see(take());
    ASSERT_FALSE(again.empty());
    EXPECT_EQ(again.front(), 0u);
    EXPECT_EQ(tx.retransmitted().at(0), 2);
    EXPECT_EQ(counters_.tcp_lost_retransmissions, 1u);
    EXPECT_EQ(counters_.tcp_timeouts, 0u);
}

// RFC 8985 7.3: a probe sends new data when there is some, even with the congestion window full.
TEST_F(RackTlp, AProbeSendsNewDataBeyondTheCongestionWindow) {
    auto c = start_sending(12 * kMss);
    ASSERT_EQ(info_of(c).bytes_in_flight, info_of(c).cwnd);

    advance(2 * kRtt + 2ms - 1ms);
    EXPECT_TRUE(tx.see(take()).empty()) << "the probe timeout: two round trips and two ticks";
    advance(1ms);
    EXPECT_EQ(tx.see(take()), Offsets{10 * kMss});
    EXPECT_EQ(counters_.tcp_tail_loss_probes, 1u);
    EXPECT_TRUE(tx.retransmitted().empty());
}

// RFC 8985 7.2: no probe during recovery. The probe timer armed when the first flight left is
// still running when recovery begins (the ACKs that began it moved nothing); when it expires in
// recovery it becomes the retransmission timer, and sends nothing beyond what PRR allows.
TEST_F(RackTlp, NoProbeGoesOutDuringRecovery) {
    auto c = start_sending(30 * kMss);
    lose_segment_0(c);
    advance(kRtt + 2ms + 1ms);  // past the probe timeout armed when the flight left
    EXPECT_TRUE(tx.see(take()).empty());
    EXPECT_EQ(counters_.tcp_tail_loss_probes, 0u);
    EXPECT_TRUE(info_of(c).in_recovery);
}

// With nothing new to send the probe is the last segment again; the peer's answer SACKs it, and
// RACK finds the segment in front of it lost at once: the tail is repaired without a timeout.
TEST_F(RackTlp, AProbesAnswerRevealsTheHoleInFrontOfIt) {
    auto c = start_sending(10 * kMss);
    advance(kRtt);
    ack(8 * kMss);  // 8 and 9 lost
    tx.see(take());

    advance(2 * kRtt + 2ms);
    EXPECT_EQ(tx.see(take()), Offsets{9 * kMss}) << "the probe: the last segment again";
    EXPECT_EQ(counters_.tcp_tail_loss_probes, 1u);
    advance(kRtt);
    ack(8 * kMss, {{9 * kMss, 10 * kMss}});
    EXPECT_EQ(tx.see(take()), Offsets{8 * kMss}) << "RACK: 9 was sent after 8 and arrived";
    EXPECT_TRUE(info_of(c).in_recovery);
    advance(kRtt);
    ack(10 * kMss);
    EXPECT_FALSE(info_of(c).in_recovery);
    EXPECT_EQ(counters_.tcp_timeouts, 0u);
}

// A small write fills the last send-queue mbuf up to a segment; once the peer has SACKed that
// mbuf, bytes written after must not join it, or they would count as SACKed too and, lost, wait
// for timeouts instead of being resent.
TEST_F(RackTlp, BytesWrittenAfterATailTheySackedAreNotTakenAsSacked) {
    auto c = start_sending(kMss);
    ASSERT_TRUE(c.set_nodelay(true).ok());
    send(c, 300, kMss);
    EXPECT_EQ(tx.see(take()), Offsets{kMss});
    advance(kRtt);
    ack(0, {{kMss, kMss + 300}});  // 0 missing, the 300 bytes arrived
    send(c, 200, kMss + 300);      // these are lost
    send(c, kMss, kMss + 500);
    const auto sent = tx.see(take());
    ASSERT_FALSE(sent.empty());
    EXPECT_EQ(sent.front(), kMss + 300);
    EXPECT_EQ(tx.end(), 2 * kMss + 500);
    advance(kRtt);
    ack(0, {{kMss, kMss + 300}, {kMss + 500, 2 * kMss + 500}});
    advance(kRtt);
    tx.see(take());
    EXPECT_EQ(tx.retransmitted(), (std::map<std::uint32_t, int>{{0, 1}, {kMss + 300, 1}}));
    EXPECT_EQ(counters_.tcp_timeouts, 0u);
}

// Without timestamps every ACK that newly acknowledges data sent once is an RTT sample (RFC 6298
// 3 with Karn's rule), timed from the scoreboard's send times.
TEST_F(RackTlp, WithoutTimestampsAcksAreTimedFromSendTimes) {
    auto c = start_sending(2 * kMss, /*sack=*/false);
    advance(4 * kRtt);
    ack(kMss);
    // RFC 6298 2.3: srtt = 7/8 srtt + 1/8 sample = 8.75 + 5 ms.
    EXPECT_EQ(info_of(c).srtt, 13750us);
    ack(2 * kMss);
    // The second segment was sent with the first: a sample of 40 ms again.
    EXPECT_GT(info_of(c).srtt, 13750us);
    (void)c;
}

// RFC 8985 6.2 step 4: the reordering window is a quarter of the minimum RTT (the handshake's
// 10 ms), not of the smoothed RTT a slower sample of 40 ms has since raised.
TEST_F(RackTlp, TheReorderingWindowIsAQuarterOfTheMinimumRtt) {
    auto c = start_sending(2 * kMss);
    advance(4 * kRtt);
    ack(kMss);
    ASSERT_EQ(info_of(c).srtt, 13750us);
    EXPECT_EQ(info_of(c).reorder_window, Nanos{kRtt} / 4);
}

// RFC 3708: segment 0 was only late. Four segments SACKed above it begin recovery (NewReno:
// ssthresh half the ten in flight) and resend it; the original then arrives and the cumulative ACK
// ends recovery with cwnd at ssthresh; the peer's D-SACK for the retransmission shows that nothing
// was lost, and the window cut is taken back: cwnd and ssthresh as before recovery (slow start
// again).
TEST_F(RackTlp, RecoveryIsUndoneWhenEveryResentSegmentIsDSacked) {
    auto c = start_sending(20 * kMss);
    ASSERT_EQ(info_of(c).cwnd, 10 * kMss);
    const std::uint32_t slow_start = info_of(c).ssthresh;
    lose_segment_0(c);
    ack(10 * kMss);
    tx.see(take());
    ASSERT_FALSE(info_of(c).in_recovery);
    EXPECT_EQ(info_of(c).cwnd, 5 * kMss) << "the cut, until the D-SACK comes";
    EXPECT_EQ(counters_.tcp_recoveries_undone, 0u);
    ack(10 * kMss, {{0, kMss}});
    EXPECT_EQ(counters_.tcp_recoveries_undone, 1u);
    EXPECT_EQ(info_of(c).cwnd, 10 * kMss);
    EXPECT_EQ(info_of(c).ssthresh, slow_start);
    // Undone once: the same D-SACK again changes nothing.
    ack(10 * kMss, {{0, kMss}});
    EXPECT_EQ(counters_.tcp_recoveries_undone, 1u);
}

// A D-SACK that comes while recovery still runs waits for its end (recovery may resend more),
// and one for data outside what the recovery covered counts for nothing.
TEST_F(RackTlp, AnUndoWaitsForTheEndOfRecovery) {
    auto c = start_sending(20 * kMss);
    lose_segment_0(c);
    ack(5 * kMss, {{0, kMss}});  // partial ACK with the D-SACK: recover is 10 segments
    ASSERT_TRUE(info_of(c).in_recovery);
    EXPECT_EQ(counters_.tcp_recoveries_undone, 0u);
    tx.see(take());
    ack(10 * kMss);
    EXPECT_FALSE(info_of(c).in_recovery);
    EXPECT_EQ(counters_.tcp_recoveries_undone, 1u);
    EXPECT_EQ(info_of(c).cwnd, 10 * kMss);
}

// A recovery that repaired a real loss is not undone: 0 was lost, its retransmission filled the
// hole, and no D-SACK names it; a D-SACK for data the recovery did not cover changes nothing; and
// a timeout during recovery takes the chance of an undo away.
TEST_F(RackTlp, ARecoveryThatRepairedALossIsNotUndone) {
    auto c = start_sending(40 * kMss);
    lose_segment_0(c);
    ack(10 * kMss);
    tx.see(take());
    ASSERT_FALSE(info_of(c).in_recovery);
    const std::uint32_t cut = info_of(c).cwnd;
    ack(11 * kMss, {{10 * kMss, 11 * kMss}});  // a duplicate of segment 10, sent after recovery
    EXPECT_EQ(counters_.tcp_dsack_received, 1u);
    EXPECT_EQ(counters_.tcp_recoveries_undone, 0u);
    EXPECT_LE(info_of(c).cwnd, cut + kMss);

    // A second recovery, ended by a timeout: its D-SACK comes too late to undo anything.
    tx.see(take());
    const std::uint32_t una = 11 * kMss;
    advance(kRtt);
    ack(una, {{una + kMss, una + 5 * kMss}});
    ASSERT_TRUE(info_of(c).in_recovery);
    tx.see(take());
    advance(std::chrono::seconds(2));
    take();
    ASSERT_GE(counters_.tcp_timeouts, 1u);
    ack(una + kMss, {{una, una + kMss}});
    EXPECT_EQ(counters_.tcp_recoveries_undone, 0u);
}

}  // namespace
}  // namespace sluice::test
