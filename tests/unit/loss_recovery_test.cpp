// Loss recovery segment by segment with a manual clock (docs/loss-recovery.md): fast retransmit
// and NewReno (RFC 5681 3.2, RFC 6582), limited transmit (RFC 3042), the retransmission timeout's
// window (RFC 5681 3.1), the post-timeout livelock (plain ACKs numbered SND.MAX, a plain ACK at
// the right edge of our window), what counts as a duplicate ACK with SACK (RFC 6675 2), SACK
// recovery (RFC 6675), the peer's SACK blocks checked (RFC 2018, RFC 2883, the 2^32 wrap), and the
// receiver's side: the SACK and D-SACK blocks we send (RFC 2018 4, RFC 2883), a FIN that arrives
// before the data in front of it (RFC 9293 3.10.7.4), and an out-of-order queue that holds a
// whole window.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "tests/support/loss_recovery_fixture.hpp"

namespace sluice::test {
namespace {

using namespace loss;

// --- fast retransmit and NewReno (RFC 5681 3.2, RFC 6582), SACK off ---

TEST_F(LossRecovery, TheThirdDuplicateAckRetransmitsTheFirstSegmentOnce) {
    start_with(Algorithm::NewReno);
    auto c = establish_passive(syn_options(kMss, /*sack=*/false));
    ASSERT_FALSE(info_of(c).sack);
    ASSERT_EQ(info_of(c).cwnd, 10 * kMss);
    send(c, 10 * kMss);
    ASSERT_EQ(with_payload(take()).size(), 10u);

    dup_ack();
    expect_none();
    dup_ack();
    expect_none();
    EXPECT_FALSE(info_of(c).in_recovery);
    dup_ack();
    const Sent again = expect_one();
    EXPECT_EQ(again.seq(), our_seq) << "the first unacknowledged segment";
    EXPECT_EQ(again.payload, pattern(kMss));
    const auto i = info_of(c);
    // RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2 * SMSS), FlightSize 10 segments.
    EXPECT_EQ(i.ssthresh, 5 * kMss);
    // RFC 9937 5: cwnd in recovery is the pipe (10 segments out, 3 gone) plus what PRR lets go:
    // nothing yet, the fast retransmit having used the half segment one delivered allows.
    EXPECT_EQ(i.cwnd, 7 * kMss);
    EXPECT_TRUE(i.in_recovery);
    EXPECT_EQ(counters_.tcp_fast_retransmits, 1u);
    EXPECT_EQ(counters_.tcp_retransmitted_segments, 1u);

    // A fourth (and fifth) duplicate: no second retransmission of it.
    dup_ack();
    expect_none();
    dup_ack();
    expect_none();
    EXPECT_EQ(counters_.tcp_retransmitted_segments, 1u);
    EXPECT_EQ(counters_.tcp_fast_retransmits, 1u);
    EXPECT_EQ(info_of(c).retransmits, 1u);
}

TEST_F(LossRecovery, APartialAckRetransmitsTheNextHoleAtOnceAndStaysInRecovery) {
    start_with(Algorithm::NewReno);
    auto c = establish_passive(syn_options(kMss, false));
    send(c, 10 * kMss);
    ASSERT_EQ(with_payload(take()).size(), 10u);
    for (int i = 0; i < 3; ++i)
        dup_ack();
    ASSERT_EQ(expect_one().seq(), our_seq);
    dup_ack();  // the fourth
    expect_none();

    // Segments 0-2 are in; 3 was lost too (RFC 6582 3.2 step 5).
    ack(3 * kMss);
    const Sent hole = expect_one();
    EXPECT_EQ(hole.seq(), our_seq + 3 * kMss);
    EXPECT_EQ(hole.payload, pattern(kMss, 3 * kMss));
    EXPECT_TRUE(info_of(c).in_recovery) << "recover is SND.MAX when recovery began: 10 segments";
    EXPECT_EQ(counters_.tcp_partial_acks, 1u);
    EXPECT_EQ(counters_.tcp_retransmitted_segments, 2u);

    // And 6 too: retransmitted at once, first.
    ack(6 * kMss);
    const auto out = with_payload(take());
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.front().seq(), our_seq + 6 * kMss);
    EXPECT_EQ(out.front().payload, pattern(kMss, 6 * kMss));
    EXPECT_TRUE(info_of(c).in_recovery);
    EXPECT_EQ(counters_.tcp_partial_acks, 2u);
    EXPECT_EQ(counters_.tcp_fast_retransmits, 1u) << "one recovery, one fast retransmit";

    // The full ACK ends it.
    ack(10 * kMss);
    EXPECT_FALSE(info_of(c).in_recovery);
    EXPECT_EQ(info_of(c).bytes_in_flight, 0u);
}

// RFC 5681 3.2 step 4 (each further duplicate is a segment that left the network; PRR, RFC 9937
// 5, counts it as one delivered), and RFC 6582 3.2 step 3: a full ACK, one covering `recover`,
// ends recovery, with cwnd = ssthresh (RFC 9937 5).
TEST_F(LossRecovery, AFullAckLeavesRecoveryWithTheWindowAtSsthresh) {
    start_with(Algorithm::NewReno);
    auto c = establish_passive(syn_options(kMss, false));
    send(c, 10 * kMss);
    ASSERT_EQ(with_payload(take()).size(), 10u);
    for (int i = 0; i < 3; ++i)
        dup_ack();
    ASSERT_EQ(expect_one().seq(), our_seq);
    ASSERT_EQ(info_of(c).ssthresh, 5 * kMss);

    // More data to send while in recovery.
    send(c, 5 * kMss, 10 * kMss);
    // 10 segments out, 3 gone: PRR allows half a segment per segment delivered (ssthresh 5 of
    // RecoverFS 10), which the fast retransmit has used up.
    expect_none();
    dup_ack();  // 4
    expect_none();
    dup_ack();  // 5: 5 of 10 gone, 5 in the network: the pipe is down to ssthresh
    expect_none();
    for (std::uint32_t n = 0; n < 3; ++n) {
        dup_ack();  // 6, 7, 8: one new segment each
        const Sent fresh = expect_one();
        EXPECT_EQ(fresh.seq(), our_seq + (10 + n) * kMss) << "duplicate " << 6 + n;
        EXPECT_EQ(fresh.payload.size(), kMss);
    }
    ASSERT_TRUE(info_of(c).in_recovery);
    ASSERT_EQ(info_of(c).bytes_in_flight, 13 * kMss);

    // The full ACK: everything up to recover (SND.MAX when recovery began, 10 segments).
    ack(10 * kMss);
    const auto i = info_of(c);
    EXPECT_FALSE(i.in_recovery);
    EXPECT_EQ(i.ssthresh, 5 * kMss);
    EXPECT_EQ(i.cwnd, 5 * kMss);
    // With the three new segments in flight, that leaves room for two more.
    const auto next = with_payload(take());
    ASSERT_EQ(next.size(), 2u);
    EXPECT_EQ(next[0].seq(), our_seq + 13 * kMss);
    EXPECT_EQ(next[1].seq(), our_seq + 14 * kMss);
    EXPECT_EQ(counters_.tcp_recoveries, 1u);
}

// RFC 3042: the first and the second duplicate ACK each let one new segment go (when there is
// data waiting and the peer's window allows), without changing cwnd; the third retransmits.
TEST_F(LossRecovery, LimitedTransmitSendsOneNewSegmentOnEachOfTheFirstTwoDuplicates) {
    start_with(Algorithm::NewReno);
    auto c = establish_passive(syn_options(kMss, false));
    send(c, 15 * kMss);
    ASSERT_EQ(with_payload(take()).size(), 10u) << "cwnd: ten segments";

    dup_ack();
    const Sent first = expect_one();
    EXPECT_EQ(first.seq(), our_seq + 10 * kMss);
    EXPECT_EQ(first.payload, pattern(kMss, 10 * kMss));
    EXPECT_EQ(info_of(c).cwnd, 10 * kMss) << "RFC 3042 2: cwnd MUST NOT change";
    dup_ack();
    const Sent second = expect_one();
    EXPECT_EQ(second.seq(), our_seq + 11 * kMss);
    EXPECT_EQ(info_of(c).cwnd, 10 * kMss);
    EXPECT_EQ(counters_.tcp_limited_transmits, 2u);
    EXPECT_FALSE(info_of(c).in_recovery);

    dup_ack();
    const Sent again = expect_one();
    EXPECT_EQ(again.seq(), our_seq) << "the third: fast retransmit, no third new segment";
    EXPECT_TRUE(info_of(c).in_recovery);
}

// RFC 5681 3.2 step 2: "When [RFC3042] is in use, additional data sent in limited transmit MUST
// NOT be included in this calculation": FlightSize for ssthresh is the ten segments sent before
// the duplicates, not the twelve.
TEST_F(LossRecovery, SegmentsSentByLimitedTransmitAreLeftOutOfTheNewSsthresh) {
    start_with(Algorithm::NewReno);
    auto c = establish_passive(syn_options(kMss, false));
    send(c, 15 * kMss);
    ASSERT_EQ(with_payload(take()).size(), 10u);
    dup_ack();
    dup_ack();
    ASSERT_EQ(with_payload(take()).size(), 2u) << "limited transmit";
    dup_ack();
    ASSERT_EQ(expect_one().seq(), our_seq);
    EXPECT_EQ(info_of(c).ssthresh, 5 * kMss) << "max(10 segments / 2, 2 segments)";
    EXPECT_EQ(info_of(c).cwnd, 9 * kMss) << "PRR: the pipe (12 out, 3 gone), nothing more yet";
}

// RFC 9438 4.6 through the engine (CUBIC is the default): ssthresh = 0.7 cwnd.
TEST_F(LossRecovery, UnderCubicTheThirdDuplicateCutsTheWindowToSevenTenths) {
    auto c = establish_passive(syn_options(kMss, false));
    ASSERT_EQ(info_of(c).congestion, Algorithm::Cubic);
    send(c, 10 * kMss);
    ASSERT_EQ(with_payload(take()).size(), 10u);
    for (int i = 0; i < 3; ++i)
        dup_ack();
    EXPECT_EQ(expect_one().seq(), our_seq);
    EXPECT_EQ(info_of(c).ssthresh, 7 * kMss);
    EXPECT_EQ(info_of(c).cwnd, 7 * kMss);
}

// --- the retransmission timeout (RFC 5681 3.1, RFC 6298 5.4) ---

TEST_F(LossRecovery, ATimeoutLeavesOneSegmentAndGoesBackToSndUna) {
    start_with(Algorithm::NewReno);
    auto c = establish_passive(syn_options(kMss, false));
    send(c, 10 * kMss);
    ASSERT_EQ(with_payload(take()).size(), 10u);
    const Nanos rto = info_of(c).rto;
    advance(rto - 1ms);
    expect_none();
    advance(1ms);
    const Sent again = expect_one();
    EXPECT_EQ(again.seq(), our_seq) << "SND.UNA";
    EXPECT_EQ(again.payload, pattern(kMss));
    auto i = info_of(c);
    EXPECT_EQ(i.cwnd, kMss) << "RFC 5681 3.1: the loss window is one segment";
    EXPECT_EQ(i.ssthresh, 5 * kMss) << "max(FlightSize / 2, 2 * SMSS)";
    EXPECT_EQ(counters_.tcp_timeouts, 1u);

    // Slow start from SND.UNA: the next two segments, again (go-back-N).
    ack(kMss);
    const auto out = with_payload(take());
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].seq(), our_seq + kMss);
    EXPECT_EQ(out[1].seq(), our_seq + 2 * kMss);
    EXPECT_EQ(info_of(c).cwnd, 2 * kMss);
}

// --- the post-timeout livelock ---

// After a timeout SND.NXT goes back to SND.UNA while the peer may have received up to SND.MAX: a
// plain ACK numbered SND.NXT is below the peer's RCV.NXT, not acceptable to it (RFC 9293
// 3.10.7.4), and its acknowledgment is never read. Numbered SND.MAX (as FreeBSD's are) it is.
TEST_F(LossRecovery, AfterATimeoutPlainAcksCarrySndMax) {
    start_with(Algorithm::NewReno);
    auto c = establish_passive(syn_options(kMss, false));
    send(c, 10 * kMss);
    ASSERT_EQ(with_payload(take()).size(), 10u);
    advance(info_of(c).rto);
    ASSERT_EQ(expect_one().seq(), our_seq);  // the timeout's retransmission

    // The peer had segments 1 and 2 already: its ACK goes past the one retransmitted.
    ack(3 * kMss);
    EXPECT_EQ(info_of(c).bytes_in_flight, 7 * kMss) << "the ACK past SND.NXT is taken";
    // Slow start: 1 + 3 segments, from the new SND.UNA.
    const auto resent = with_payload(take());
    ASSERT_EQ(resent.size(), 4u);
    EXPECT_EQ(resent.front().seq(), our_seq + 3 * kMss);
    EXPECT_EQ(resent.back().seq(), our_seq + 6 * kMss);
    // SND.NXT is now 7 segments on, SND.MAX 10. The peer sends data; our ACK of it is plain.
    peer_data(100, 3 * kMss);
    advance(config_.delayed_ack);
    const auto out = take();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(out[0].payload.empty());
    EXPECT_EQ(out[0].ack(), peer_seq);
    EXPECT_EQ(out[0].seq(), our_seq + 10 * kMss) << "SND.MAX, not SND.NXT";
}

// A peer whose data filled the window we offered numbers its plain ACKs at the window's right
// edge (RCV.NXT + RCV.WND). RFC 9293's table refuses them; refusing them refuses every
// acknowledgment it sends until it hears of a new window. Taken, as Linux does; a RST there is
// still refused (RFC 5961 3.2).
TEST_F(LossRecovery, APlainAckAtTheRightEdgeOfOurWindowIsAccepted) {
    start_with(Algorithm::NewReno);
    auto c = establish_passive(syn_options(kMss, false));
    send(c, kMss);
    ASSERT_EQ(with_payload(take()).size(), 1u);
    // The SYN-ACK offered 65535 bytes (64 KiB of buffer, no scaling).
    const std::uint32_t right_edge = peer_seq + 65535;
    inject(Seg{.seq = right_edge, .ack = our_seq + kMss, .source_port = peer_port});
    expect_none();
    EXPECT_EQ(counters_.dropped(DropReason::TcpNotAcceptable), 0u);
    EXPECT_EQ(info_of(c).bytes_in_flight, 0u) << "its ACK moved SND.UNA";
    EXPECT_EQ(info_of(c).send_queue_bytes, 0u);
    our_seq += kMss;

    // One beyond: refused, and answered with an ACK.
    send(c, kMss, kMss);
    ASSERT_EQ(with_payload(take()).size(), 1u);
    inject(Seg{.seq = right_edge + 1, .ack = our_seq + kMss, .source_port = peer_port});
    const Sent answer = expect_one();
    EXPECT_EQ(answer.ack(), peer_seq);
    EXPECT_EQ(counters_.dropped(DropReason::TcpNotAcceptable), 1u);
    EXPECT_EQ(info_of(c).bytes_in_flight, kMss);

    // A RST at the right edge: not acceptable, dropped silently.
    inject(Seg{.flags = kRst, .seq = right_edge, .source_port = peer_port});
    expect_none();
    EXPECT_TRUE(c.valid());
    EXPECT_EQ(info_of(c).state, TcpState::Established);
    EXPECT_EQ(counters_.tcp_resets_received, 0u);
    EXPECT_EQ(counters_.tcp_challenge_acks, 0u);
    EXPECT_EQ(counters_.dropped(DropReason::TcpNotAcceptable), 2u);
    // Nor is data that starts there.
    inject(Seg{.seq = right_edge,
               .ack = our_seq + kMss,
               .payload = pattern(10),
               .source_port = peer_port});
    EXPECT_EQ(expect_one().ack(), peer_seq);
    EXPECT_EQ(counters_.dropped(DropReason::TcpNotAcceptable), 3u);
    EXPECT_TRUE(handler_.received.empty());
}

// --- what counts as a duplicate ACK with SACK (RFC 6675 2) ---

// A two-way exchange: the peer's ACKs carry data, so they are not duplicates in RFC 5681's sense,
// but each SACKs a segment not SACKed before. Limited transmit shows each one counted.
TEST_F(LossRecovery, AcksCarryingDataCountAsDuplicatesWhenTheySackNewData) {
    start_with(Algorithm::NewReno);
    handshake_rtt = kRtt;
    auto c = establish_passive(syn_options(kMss, /*sack=*/true));
    ASSERT_TRUE(info_of(c).sack);
    send(c, 12 * kMss);
    ASSERT_EQ(with_payload(take()).size(), 10u);
    advance(kRtt);  // the first answers: RACK finds nothing overdue yet

    peer_data(100, 0, sack(our_seq, {{kMss, 2 * kMss}}));
    auto out = with_payload(take());
    ASSERT_EQ(out.size(), 1u) << "limited transmit: the ACK counted as the first duplicate";
    EXPECT_EQ(out[0].seq(), our_seq + 10 * kMss);
    peer_data(100, 0, sack(our_seq, {{kMss, 3 * kMss}}));
    out = with_payload(take());
    ASSERT_EQ(out.size(), 1u) << "the second duplicate";
    EXPECT_EQ(out[0].seq(), our_seq + 11 * kMss);
    EXPECT_FALSE(info_of(c).in_recovery);
    peer_data(100, 0, sack(our_seq, {{kMss, 4 * kMss}}));
    out = with_payload(take());
    ASSERT_EQ(out.size(), 1u) << "the third: fast retransmit";
    EXPECT_EQ(out[0].seq(), our_seq);
    EXPECT_EQ(out[0].payload, pattern(kMss));
    EXPECT_TRUE(info_of(c).in_recovery);
    EXPECT_EQ(counters_.tcp_fast_retransmits, 1u);
    EXPECT_EQ(handler_.received.size(), 300u);
}

// The same with pure ACKs whose window changes each time: each SACKs new data, so each counts;
// one that changes the window and SACKs nothing new does not.
TEST_F(LossRecovery, AcksWithAChangedWindowCountAsDuplicatesWhenTheySackNewData) {
    start_with(Algorithm::NewReno);
    handshake_rtt = kRtt;
    auto c = establish_passive(syn_options(kMss, true));
    send(c, 12 * kMss);
    ASSERT_EQ(with_payload(take()).size(), 10u);
    advance(kRtt);

    ack(0, {{kMss, 2 * kMss}}, 60000);
    auto out = with_payload(take());
    ASSERT_EQ(out.size(), 1u) << "limited transmit: the first duplicate";
    EXPECT_EQ(out[0].seq(), our_seq + 10 * kMss);
    ack(0, {{kMss, 2 * kMss}}, 58000);
    expect_none();  // a window update: nothing new SACKed, not a duplicate
    ack(0, {{kMss, 3 * kMss}}, 55000);
    out = with_payload(take());
    ASSERT_EQ(out.size(), 1u) << "the second duplicate";
    EXPECT_EQ(out[0].seq(), our_seq + 11 * kMss);
    EXPECT_FALSE(info_of(c).in_recovery);
    ack(0, {{kMss, 4 * kMss}}, 50000);
    out = with_payload(take());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].seq(), our_seq);
    EXPECT_TRUE(info_of(c).in_recovery);
    EXPECT_EQ(info_of(c).send_window, 50000u);
}

// --- SACK recovery (RFC 6675) ---

// Segments 0, 3 and 6 of ten lost: each is retransmitted once, nothing SACKed is, and new data
// goes while the pipe has room.
TEST_F(LossRecovery, SackRecoveryRetransmitsEachHoleOnceAndThenNewData) {
    start_with(Algorithm::NewReno);
    handshake_rtt = kRtt;
    auto c = establish_passive(syn_options(kMss, true));
    send(c, 20 * kMss);
    Transmissions tx(our_seq);
    ASSERT_EQ(tx.see(take()).size(), 10u);
    advance(kRtt);

    // 1 and 2 arrive: one new segment (limited transmit).
    ack(0, {{1 * kMss, 3 * kMss}});
    EXPECT_EQ(tx.see(take()), std::vector<std::uint32_t>{10 * kMss});
    // 4 and 5: four segments SACKed above 0, so 0 is lost (RFC 6675 IsLost): recovery. RACK
    // (RFC 8985 6.2) finds 3 lost too, but the pipe (RFC 6675 5 step C) has no room for it yet.
    ack(0, {{4 * kMss, 6 * kMss}, {1 * kMss, 3 * kMss}});
    EXPECT_EQ(tx.see(take()), std::vector<std::uint32_t>{0});
    EXPECT_TRUE(info_of(c).in_recovery);
    // 7 to 9: 6 is lost too; 3 and 6 go, then new data while the pipe allows.
    ack(0, {{7 * kMss, 10 * kMss}, {4 * kMss, 6 * kMss}, {1 * kMss, 3 * kMss}});
    const auto third = tx.see(take());
    ASSERT_GE(third.size(), 2u);
    EXPECT_EQ(third[0], 3 * kMss);
    EXPECT_EQ(third[1], 6 * kMss);
    EXPECT_GT(tx.fresh().back(), 10 * kMss) << "new data follows the retransmissions";
    // 0 arrives: a partial ACK; 10 and new data too.
    ack(3 * kMss, {{7 * kMss, tx.end()}, {4 * kMss, 6 * kMss}});
    tx.see(take());
    EXPECT_TRUE(info_of(c).in_recovery);
    // 3 arrives.
    ack(6 * kMss, {{7 * kMss, tx.end()}});
    tx.see(take());
    // 6 arrives: everything up to what was sent.
    ack(tx.end());
    tx.see(take());
    EXPECT_FALSE(info_of(c).in_recovery);

    const std::map<std::uint32_t, int> expected{{0, 1}, {3 * kMss, 1}, {6 * kMss, 1}};
    EXPECT_EQ(tx.retransmitted(), expected) << "each hole once, nothing SACKed";
    EXPECT_EQ(counters_.tcp_recoveries, 1u);
    EXPECT_EQ(counters_.tcp_sack_blocks_invalid, 0u);
    EXPECT_EQ(counters_.tcp_lost_retransmissions, 0u);
    // The rest goes as the ACKs come.
    for (int round = 0; round < 20 && tx.end() < 20 * kMss; ++round) {
        ack(tx.end());
        tx.see(take());
    }
    EXPECT_EQ(tx.end(), 20 * kMss);
    EXPECT_EQ(tx.retransmitted(), expected);
}

// --- the peer's SACK blocks, checked (RFC 2018, RFC 2883) ---

TEST_F(LossRecovery, ReversedStaleAndOverlongSackBlocksAreIgnoredAndCounted) {
    start_with(Algorithm::NewReno);
    auto c = establish_passive(syn_options(kMss, true));
    send(c, 10 * kMss);
    ASSERT_EQ(with_payload(take()).size(), 10u);
    ack(2 * kMss);  // SND.UNA 2 segments on, SND.MAX 10
    expect_none();

    ack(2 * kMss, {
                      {9 * kMss, 3 * kMss},   // reversed
                      {0, kMss},              // below SND.UNA (not the first: not a D-SACK)
                      {3 * kMss, 11 * kMss},  // beyond SND.MAX
                      {kMss, 5 * kMss},       // straddles SND.UNA
                  });
    EXPECT_EQ(counters_.tcp_sack_blocks_received, 4u);
    EXPECT_EQ(counters_.tcp_sack_blocks_invalid, 4u);
    EXPECT_EQ(counters_.tcp_dsack_received, 0u);
    // Had the blocks over segments 3 to 9 been believed, 2 would be lost and sent again now.
    expect_none();
    EXPECT_FALSE(info_of(c).in_recovery);
    EXPECT_EQ(counters_.tcp_retransmitted_segments, 0u);

    // Empty, and wholly past SND.MAX.
    ack(2 * kMss, {{4 * kMss, 4 * kMss}, {20 * kMss, 21 * kMss}}, 65000);
    EXPECT_EQ(counters_.tcp_sack_blocks_invalid, 6u);
    expect_none();

    ack(10 * kMss);
    EXPECT_EQ(info_of(c).bytes_in_flight, 0u);
    EXPECT_EQ(counters_.tcp_retransmitted_segments, 0u);
}

// RFC 2883: a first block below the cumulative ACK reports a duplicate segment the peer received
// (our retransmission was spurious, or the network duplicated the segment). It is counted, marks
// nothing, and is no sign of a loss: with SACK, an ACK that SACKs nothing new is not a duplicate
// ACK (RFC 6675 2). A link that duplicates segments would otherwise cost a fast retransmit and a
// halved window for every three D-SACKs in a row.
TEST_F(LossRecovery, DSackBlocksAreCountedAndAreNotDuplicateAcks) {
    start_with(Algorithm::NewReno);
    auto c = establish_passive(syn_options(kMss, true));
    send(c, 10 * kMss);
    ASSERT_EQ(with_payload(take()).size(), 10u);
    ack(3 * kMss);
    expect_none();
    for (int i = 0; i < 4; ++i) {
        ack(3 * kMss, {{kMss, 2 * kMss}});
        expect_none();
    }
    EXPECT_EQ(counters_.tcp_dsack_received, 4u);
    EXPECT_EQ(counters_.tcp_sack_blocks_invalid, 0u);
    EXPECT_EQ(counters_.tcp_fast_retransmits, 0u);
    EXPECT_EQ(counters_.tcp_retransmitted_segments, 0u);
    EXPECT_FALSE(info_of(c).in_recovery);
    EXPECT_EQ(info_of(c).cwnd, 13 * kMss) << "no reduction either";
}

// RFC 2883 4.2: a first block inside the second is a D-SACK too; the second is an ordinary block.
TEST_F(LossRecovery, AFirstBlockInsideTheSecondIsADSack) {
    start_with(Algorithm::NewReno);
    auto c = establish_passive(syn_options(kMss, true));
    send(c, 10 * kMss);
    ASSERT_EQ(with_payload(take()).size(), 10u);
    ack(0, {{5 * kMss, 6 * kMss}, {4 * kMss, 7 * kMss}});
    EXPECT_EQ(counters_.tcp_dsack_received, 1u);
    EXPECT_EQ(counters_.tcp_sack_blocks_invalid, 0u);
    // The second block SACKed three segments above 0, 1, 2 and 3: all are lost (IsLost), the
    // first goes at once.
    const auto out = with_payload(take());
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.front().seq(), our_seq);
    for (const Sent& s : out)
        EXPECT_LT(s.seq() - our_seq, 4 * kMss) << "nothing SACKed goes again";
    EXPECT_TRUE(info_of(c).in_recovery);
}

TEST_F(LossRecovery, SackBlocksAcrossTheSequenceWrap) {
    start_with(Algorithm::NewReno);
    // Our data starts 3500 bytes below 2^32: segment 3 straddles it.
    ASSERT_TRUE(arrange_iss(0xFFFFFFFFu - 3500)) << "no tuple with a usable ISS";
    auto c = establish_passive(syn_options(kMss, true));
    ASSERT_EQ(our_seq, 0xFFFFFFFFu - 3499);
    send(c, 10 * kMss);
    Transmissions tx(our_seq);
    ASSERT_EQ(tx.see(take()).size(), 10u);
    ASSERT_LT(our_seq + 10 * kMss, our_seq) << "the data must cross 2^32";

    // 0 lost; 1 to 4 SACKed, a block whose right edge is past the wrap.
    ack(0, {{kMss, 5 * kMss}});
    EXPECT_EQ(counters_.tcp_sack_blocks_invalid, 0u);
    EXPECT_EQ(tx.see(take()), std::vector<std::uint32_t>{0}) << "0 is lost: retransmitted";
    EXPECT_TRUE(info_of(c).in_recovery);
    // Past SND.MAX across the wrap, and reversed across it: refused.
    ack(0, {{5 * kMss, 11 * kMss}, {5 * kMss, 2 * kMss}, {kMss, 5 * kMss}});
    EXPECT_EQ(counters_.tcp_sack_blocks_invalid, 2u);
    // 5 to 9: nothing more is lost.
    ack(0, {{kMss, 10 * kMss}});
    EXPECT_EQ(counters_.tcp_sack_blocks_invalid, 2u);
    tx.see(take());
    EXPECT_EQ(tx.retransmitted(), (std::map<std::uint32_t, int>{{0, 1}}));
    ack(10 * kMss);
    EXPECT_FALSE(info_of(c).in_recovery);
    EXPECT_EQ(info_of(c).bytes_in_flight, 0u);
    EXPECT_EQ(info_of(c).send_queue_bytes, 0u);
}

// Linux's 2019 SACK CVEs were blocks shaped to make each ACK expensive. A hundred thousand ACKs
// of tiny and bogus blocks: the work per ACK is bounded, every block is read and judged.
TEST_F(LossRecovery, AHundredThousandAcksOfTinyAndBogusBlocks) {
    start_with(Algorithm::NewReno);
    auto c = establish_passive(syn_options(kMss, true));
    send(c, 30 * kMss);
    ASSERT_EQ(with_payload(take()).size(), 10u);
    constexpr std::uint32_t kAcks = 100'000;
    std::size_t sent = 0;
    for (std::uint32_t i = 0; i < kAcks; ++i) {
        const std::uint32_t k = (i * 7919) % (10 * kMss - 2);
        const std::uint32_t m = (i % 10) * kMss;
        ack(0, {
                   {k + 1, k + 2},      // one byte: covers no whole segment
                   {k + 2, k + 1},      // reversed
                   {1, 1'000'000'000},  // far past SND.MAX
                   {m + 500, m + 501},  // one byte again, elsewhere
               });
        if (i % 1000 == 999)
            sent += take().size();
    }
    sent += take().size();
    EXPECT_EQ(counters_.tcp_sack_blocks_received, 4u * kAcks);
    EXPECT_EQ(counters_.tcp_sack_blocks_invalid, 2u * kAcks);
    EXPECT_EQ(counters_.tcp_dsack_received, 0u);
    EXPECT_LE(sent, 30u) << "no storm of retransmissions";
    EXPECT_LE(counters_.tcp_retransmitted_segments, 10u);
    EXPECT_TRUE(c.valid());
    // The connection still works: the peer acknowledges whatever was sent, until all was.
    for (int round = 0; round < 50 && info_of(c).send_queue_bytes > 0; ++round) {
        const std::uint32_t in_flight = info_of(c).bytes_in_flight;
        ack(in_flight);
        our_seq += in_flight;
        take();
    }
    EXPECT_EQ(info_of(c).send_queue_bytes, 0u);
    EXPECT_EQ(info_of(c).bytes_in_flight, 0u);
}

// --- the receiver: SACK and D-SACK blocks we send (RFC 2018 4, RFC 2883) ---

TEST_F(LossRecovery, OurSackBlocksPutTheMostRecentSegmentFirst) {
    auto c = establish_passive(syn_options(kMss, true));
    using Blocks = std::vector<std::pair<std::uint32_t, std::uint32_t>>;
    const auto arrive = [&](std::uint32_t offset) {
        peer_segment(offset, kMss);
        const Sent a = expect_one();
        EXPECT_EQ(a.ack(), peer_seq) << "a duplicate ACK at once";
        return blocks_of(a, peer_seq);
    };
    EXPECT_EQ(arrive(1000), (Blocks{{1000, 2000}}));
    Blocks b = arrive(3000);
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b[0], std::make_pair(3000u, 4000u)) << "the block the segment went into first";
    EXPECT_EQ(std::set(b.begin(), b.end()),
              (std::set<std::pair<std::uint32_t, std::uint32_t>>{{1000, 2000}, {3000, 4000}}));
    b = arrive(5000);
    ASSERT_EQ(b.size(), 3u);
    EXPECT_EQ(b[0], std::make_pair(5000u, 6000u));
    // Joining two blocks: the joined one first.
    b = arrive(2000);
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b[0], std::make_pair(1000u, 4000u));
    EXPECT_EQ(b[1], std::make_pair(5000u, 6000u));
    // A segment below the others is first too.
    b = arrive(7000);
    ASSERT_EQ(b.size(), 3u);
    EXPECT_EQ(b[0], std::make_pair(7000u, 8000u));
    // Filling the first gap delivers up to the next one.
    peer_segment(0, kMss);
    const Sent a = expect_one();
    EXPECT_EQ(a.ack(), peer_seq + 4000);
    b = blocks_of(a, peer_seq);
    EXPECT_EQ(std::set(b.begin(), b.end()),
              (std::set<std::pair<std::uint32_t, std::uint32_t>>{{5000, 6000}, {7000, 8000}}));
    EXPECT_EQ(handler_.received, pattern(4000));
    EXPECT_EQ(counters_.tcp_sack_blocks_sent, 1u + 2 + 3 + 2 + 3 + 2);
    (void)c;
}

TEST_F(LossRecovery, AtMostFourSackBlocksWithoutTimestamps) {
    auto c = establish_passive(syn_options(kMss, true));
    Sent last;
    for (std::uint32_t i = 1; i <= 6; ++i) {
        peer_segment(2 * i * 500, 500);
        last = expect_one();
    }
    const auto b = blocks_of(last, peer_seq);
    ASSERT_EQ(b.size(), 4u) << "RFC 2018 3: 4 blocks fit 40 bytes of options";
    EXPECT_EQ(b[0], std::make_pair(6000u, 6500u)) << "the most recent first";
    for (const auto& [left, right] : b) {
        EXPECT_EQ(right - left, 500u);
        EXPECT_EQ(left % 1000, 0u);
    }
    (void)c;
}

// RFC 2018 4, third rule (a SHOULD): the blocks after the first repeat the most recently reported
// ones, so that each block is reported in several ACKs and a lost ACK costs nothing. Six disjoint
// segments arriving in order: the ACK of the sixth reports 6, 5, 4 and 3, not 6, 1, 2 and 3 (the
// fifth block, reported once, would be lost with that one ACK).
TEST_F(LossRecovery, OurSackBlocksRepeatTheMostRecentlyReportedOnes) {
    auto c = establish_passive(syn_options(kMss, true));
    Sent last;
    for (std::uint32_t i = 1; i <= 6; ++i) {
        peer_segment(2 * i * 500, 500);
        last = expect_one();
    }
    using Blocks = std::vector<std::pair<std::uint32_t, std::uint32_t>>;
    EXPECT_EQ(blocks_of(last, peer_seq),
              (Blocks{{6000, 6500}, {5000, 5500}, {4000, 4500}, {3000, 3500}}));
    (void)c;
}

TEST_F(LossRecovery, AtMostThreeSackBlocksWithTimestamps) {
    auto c = establish_passive(syn_options(kMss, true, /*timestamps=*/true));
    Sent last;
    for (std::uint32_t i = 1; i <= 6; ++i) {
        wire::TcpOptions o;
        o.timestamps = wire::TcpTimestamps{200 + i, 0};
        peer_segment(2 * i * 400, 400, kAck, o);
        last = expect_one();
    }
    ASSERT_TRUE(last.tcp.options.timestamps.has_value());
    const auto b = blocks_of(last, peer_seq);
    ASSERT_EQ(b.size(), 3u) << "RFC 2018 3: 3 blocks beside the timestamps";
    EXPECT_EQ(b[0], std::make_pair(4800u, 5200u)) << "the most recent first";
    (void)c;
}

TEST_F(LossRecovery, ADuplicateSegmentIsReportedWithADSackBlockFirst) {
    auto c = establish_passive(syn_options(kMss, true));
    peer_segment(0, kMss);
    peer_seq += kMss;
    advance(config_.delayed_ack);
    ASSERT_EQ(take().back().ack(), peer_seq);
    EXPECT_EQ(counters_.tcp_dsack_sent, 0u);

    // The same segment again (its ACK was lost): RFC 2883 4.1.1, the duplicate as the one block.
    inject(Seg{.seq = peer_seq - kMss,
               .ack = our_seq,
               .payload = pattern(kMss),
               .source_port = peer_port});
    Sent a = expect_one();
    EXPECT_EQ(a.ack(), peer_seq);
    ASSERT_EQ(a.tcp.options.sack_block_count, 1u);
    EXPECT_EQ(a.tcp.options.sack_blocks[0].left.raw(), peer_seq - kMss);
    EXPECT_EQ(a.tcp.options.sack_blocks[0].right.raw(), peer_seq);
    EXPECT_EQ(counters_.tcp_dsack_sent, 1u);

    // A duplicate of data held out of order (RFC 2883 4.1.2): the D-SACK block, then the block
    // holding it.
    peer_segment(2 * kMss, kMss);
    a = expect_one();
    ASSERT_EQ(a.tcp.options.sack_block_count, 1u);
    peer_segment(2 * kMss, kMss);
    a = expect_one();
    using Blocks = std::vector<std::pair<std::uint32_t, std::uint32_t>>;
    EXPECT_EQ(blocks_of(a, peer_seq), (Blocks{{2000, 3000}, {2000, 3000}}));
    EXPECT_EQ(counters_.tcp_dsack_sent, 2u);
    // The next ACK has no D-SACK left in it.
    peer_segment(4 * kMss, kMss);
    a = expect_one();
    EXPECT_EQ(blocks_of(a, peer_seq), (Blocks{{4000, 5000}, {2000, 3000}}));
    EXPECT_EQ(handler_.received, pattern(kMss));
    (void)c;
}

// --- the receiver: a FIN before the data in front of it (RFC 9293 3.10.7.4, eighth step) ---

TEST_F(LossRecovery, AFinOnAnOutOfOrderSegmentIsHeldUntilTheGapFills) {
    auto c = establish_passive(syn_options(kMss, false));
    peer_segment(kMss, kMss, kAck | kFin);
    EXPECT_EQ(expect_one().ack(), peer_seq) << "a duplicate ACK: the gap is still open";
    EXPECT_EQ(info_of(c).state, TcpState::Established);
    EXPECT_FALSE(handler_.saw("peer_closed"));
    EXPECT_EQ(counters_.tcp_fin_held_out_of_order, 1u);

    peer_segment(0, kMss);
    const auto out = take();
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.back().ack(), peer_seq + 2 * kMss + 1) << "the data and the FIN";
    EXPECT_EQ(handler_.received, pattern(2 * kMss));
    EXPECT_EQ(info_of(c).state, TcpState::CloseWait);
    EXPECT_TRUE(handler_.saw("peer_closed"));
}

TEST_F(LossRecovery, AFinAloneBeforeMissingDataIsHeldUntilTheGapFills) {
    auto c = establish_passive(syn_options(kMss, false));
    peer_segment(kMss, kMss);
    EXPECT_EQ(expect_one().ack(), peer_seq);
    inject(Seg{.flags = kAck | kFin,
               .seq = peer_seq + 2 * kMss,
               .ack = our_seq,
               .source_port = peer_port});
    EXPECT_EQ(expect_one().ack(), peer_seq);
    EXPECT_EQ(info_of(c).state, TcpState::Established);
    EXPECT_FALSE(handler_.saw("peer_closed"));

    peer_segment(0, kMss);
    const auto out = take();
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.back().ack(), peer_seq + 2 * kMss + 1);
    EXPECT_EQ(handler_.received, pattern(2 * kMss));
    EXPECT_EQ(info_of(c).state, TcpState::CloseWait);
    EXPECT_TRUE(handler_.saw("peer_closed"));
}

TEST_F(LossRecovery, AFinAloneRightAfterAGapIsHeldUntilTheGapFills) {
    auto c = establish_passive(syn_options(kMss, false));
    inject(Seg{
        .flags = kAck | kFin, .seq = peer_seq + kMss, .ack = our_seq, .source_port = peer_port});
    EXPECT_EQ(expect_one().ack(), peer_seq);
    EXPECT_EQ(info_of(c).state, TcpState::Established);
    peer_segment(0, kMss);
    const auto out = take();
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.back().ack(), peer_seq + kMss + 1);
    EXPECT_EQ(info_of(c).state, TcpState::CloseWait);
    EXPECT_TRUE(handler_.saw("peer_closed"));
    EXPECT_EQ(handler_.received, pattern(kMss));
}

// --- the receiver: the out-of-order queue holds a window ---

// The default receive buffer, 256 KiB: 170 full-sized segments behind one lost one are all held
// (the window holds about 178), and all delivered in order when it comes.
TEST_F(LossRecovery, TheOutOfOrderQueueHoldsAWholeWindowOfFullSizedSegments) {
    config_.receive_buffer = tcp::TcpConfig{}.receive_buffer;
    ASSERT_EQ(config_.receive_buffer, 256u * 1024);
    start(config_);
    auto c = establish_passive(syn_options(1460, false, false, /*window_scale=*/7));
    constexpr std::uint32_t kSegment = 1460;
    constexpr std::uint32_t kHeld = 170;
    for (std::uint32_t i = 1; i <= kHeld; ++i) {
        peer_segment(i * kSegment, kSegment);
        const auto out = take();
        ASSERT_EQ(out.size(), 1u) << "segment " << i;
        EXPECT_EQ(out[0].ack(), peer_seq);
    }
    EXPECT_EQ(counters_.dropped(DropReason::TcpOutOfOrderFull), 0u);
    EXPECT_EQ(counters_.tcp_out_of_order_segments, kHeld);
    EXPECT_TRUE(handler_.received.empty());

    peer_segment(0, kSegment);
    const auto out = take();
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.back().ack(), peer_seq + (kHeld + 1) * kSegment);
    EXPECT_EQ(handler_.received.size(), (kHeld + 1) * kSegment);
    EXPECT_TRUE(handler_.received == pattern((kHeld + 1) * kSegment)) << "every byte, in order";
    EXPECT_EQ(counters_.dropped(DropReason::TcpOutOfOrderFull), 0u);
    (void)c;
}

// The worker's bound on what all its connections hold out of order together (TcpConfig::
// max_out_of_order_worker_segments): with room for four, a connection holding three leaves the
// other one; the next is dropped and counted as the worker's bound, not the connection's; once
// the first connection's gap fills and its segments go to the application, there is room again.
TEST_F(LossRecovery, TheWorkerBoundsSegmentsHeldOutOfOrderByAllItsConnections) {
    config_.max_out_of_order_worker_segments = 4;
    start(config_);
    const std::uint16_t port_a = peer_port;
    const std::uint16_t port_b = peer_port + 1;
    auto a = establish_passive(syn_options(kMss, true));
    // peer_segment() sends from peer_seq and acknowledges our_seq: each connection its own.
    const std::uint32_t our_a = our_seq;
    const std::uint32_t peer_a = peer_seq;
    peer_port = port_b;
    auto b = establish_passive(syn_options(kMss, true));
    const std::uint32_t our_b = our_seq;
    const std::uint32_t peer_b = peer_seq;
    const auto to = [&](std::uint16_t port, std::uint32_t our) {
        peer_port = port;
        our_seq = our;
        peer_seq = port == port_a ? peer_a : peer_b;
    };
    to(port_a, our_a);
    for (std::uint32_t i = 1; i <= 3; ++i)
        peer_segment(i * kMss, kMss);
    to(port_b, our_b);
    peer_segment(2 * kMss, kMss);
    EXPECT_EQ(counters_.tcp_out_of_order_segments, 4u);
    peer_segment(4 * kMss, kMss);
    take();
    EXPECT_EQ(counters_.dropped(DropReason::TcpOutOfOrderWorkerFull), 1u);
    EXPECT_EQ(counters_.dropped(DropReason::TcpOutOfOrderFull), 0u);
    EXPECT_EQ(counters_.tcp_out_of_order_segments, 4u);

    to(port_a, our_a);
    peer_segment(0, kMss);  // a's gap fills: its four go to the application in order
    to(port_b, our_b);
    peer_segment(4 * kMss, kMss);
    take();
    EXPECT_EQ(counters_.tcp_out_of_order_segments, 5u);
    EXPECT_EQ(counters_.dropped(DropReason::TcpOutOfOrderWorkerFull), 1u);
    EXPECT_EQ(handler_.received.size(), 4 * kMss) << "a's four, in order";
    (void)a;
    (void)b;
}

}  // namespace
}  // namespace sluice::test
