// Proportional Rate Reduction (RFC 9937) in fast recovery, with SACK and without: the
// controller's arithmetic on its own (the proportional part above ssthresh, the conservative and
// slow-start bounds below it, the counters handed back to CUBIC afterwards), then the engine
// segment by segment: while the pipe is above ssthresh new data goes in proportion to what the
// ACKs deliver, from the first ACK of recovery on (RFC 6675 alone would send nothing for half a
// round trip, then a burst); below it the pipe is rebuilt no faster than the ACKs come; recovery
// ends with the window at ssthresh.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "dataplane/tcp/congestion/controller.hpp"
#include "tests/support/loss_recovery_fixture.hpp"

namespace sluice::test {
namespace {

using namespace loss;
using tcp::congestion::Controller;

// RFC 9937 5: what PRR lets go in all once `delivered` bytes have arrived during recovery, above
// ssthresh: CEIL(prr_delivered * ssthresh / RecoverFS).
std::uint32_t proportional_allowance(std::uint64_t delivered, std::uint64_t ssthresh,
                                     std::uint64_t recover_fs) {
    return static_cast<std::uint32_t>((delivered * ssthresh + recover_fs - 1) / recover_fs);
}

// --- the controller's arithmetic ---

// A controller of algorithm `a` whose window was `window`, all of it in flight, when a loss cut it.
Controller cut_at(Algorithm a, std::uint32_t window) {
    Controller c;
    c.start(a, kMss);
    c.cwnd = window;
    c.on_loss(window, kMss, Nanos{0});
    return c;
}

// A sender that follows the window PRR sets, a whole segment at a time: over the recovery
// (everything outstanding at its start delivered once) it sends exactly ssthresh, never more than
// the proportion allows at any ACK, and ends with ssthresh in flight.
TEST(PrrArithmetic, AboveSsthreshSendsInProportionToWhatWasDelivered) {
    for (const Algorithm a : {Algorithm::NewReno, Algorithm::Cubic}) {
        Controller c = cut_at(a, 20 * kMss);
        const std::uint32_t ssthresh = c.ssthresh;
        EXPECT_EQ(ssthresh, a == Algorithm::NewReno ? 10 * kMss : 14 * kMss);
        const std::uint32_t recover_fs = 20 * kMss;
        c.start_prr(recover_fs, kMss);

        std::uint32_t pipe = recover_fs;
        std::uint32_t sent = 0;
        for (std::uint32_t k = 1; k <= 20; ++k) {
            pipe -= kMss;  // one segment delivered
            c.prr_on_ack(kMss, pipe, /*safe_ack=*/false, kMss);
            while (c.cwnd >= pipe + kMss) {
                c.prr_sent(kMss);
                pipe += kMss;
                sent += kMss;
            }
            EXPECT_LE(sent, proportional_allowance(std::uint64_t{k} * kMss, ssthresh, recover_fs))
                << "ACK " << k;
            // Held back by more than the rounding to segments only once the pipe is down to
            // ssthresh: from there on PRR never takes the flight past it.
            if (pipe > ssthresh) {
                EXPECT_GT(sent + kMss,
                          proportional_allowance(std::uint64_t{k} * kMss, ssthresh, recover_fs))
                    << "ACK " << k;
            }
        }
        EXPECT_EQ(sent, ssthresh);
        EXPECT_EQ(pipe, ssthresh) << "recovery ends with ssthresh in flight";
        EXPECT_EQ(c.prr_out, ssthresh);
        EXPECT_EQ(c.prr_delivered, recover_fs);
    }
}

// Below ssthresh (more was lost than the window was cut by) the pipe grows by what each ACK
// delivered (PRR-CRB), plus one segment on an ACK that moved SND.UNA with no further loss
// (PRR-SSRB), and never past ssthresh: no burst of ssthresh - pipe at once.
TEST(PrrArithmetic, BelowSsthreshThePipeGrowsNoFasterThanTheAcksCome) {
    Controller c = cut_at(Algorithm::NewReno, 20 * kMss);
    ASSERT_EQ(c.ssthresh, 10 * kMss);
    c.start_prr(20 * kMss, kMss);
    c.prr_sent(kMss);  // the fast retransmit

    c.prr_on_ack(kMss, 3 * kMss, /*safe_ack=*/false, kMss);
    EXPECT_EQ(c.cwnd, 4 * kMss) << "CRB: one segment delivered, one may go";
    c.prr_sent(kMss);
    c.prr_on_ack(2 * kMss, 2 * kMss, /*safe_ack=*/true, kMss);
    EXPECT_EQ(c.cwnd, 2 * kMss + 2 * kMss + kMss) << "SSRB: what was delivered and one more";
    c.prr_sent(3 * kMss);
    c.prr_on_ack(8 * kMss, 2 * kMss, /*safe_ack=*/true, kMss);
    EXPECT_EQ(c.cwnd, c.ssthresh) << "never past ssthresh";
    const std::uint32_t before = c.cwnd;
    c.prr_on_ack(0, kMss, /*safe_ack=*/true, kMss);
    EXPECT_EQ(c.cwnd, before) << "an ACK that delivered nothing changes nothing";

    // A short segment delivered still lets a whole one go (Linux counts PRR in segments).
    c.start_prr(20 * kMss, kMss);
    c.prr_sent(kMss);
    c.prr_on_ack(100, 3 * kMss, /*safe_ack=*/false, kMss);
    EXPECT_EQ(c.cwnd, 4 * kMss);
}

// Whatever the algorithm, recovery ends with the window at ssthresh (RFC 9937 5: PRR has brought
// the flight there), PRR's counters gone and no CUBIC epoch open.
TEST(PrrArithmetic, RecoveryEndsWithTheWindowAtSsthresh) {
    for (const Algorithm a : {Algorithm::NewReno, Algorithm::Cubic}) {
        Controller c = cut_at(a, 20 * kMss);
        const std::uint32_t ssthresh = c.ssthresh;
        c.start_prr(20 * kMss, kMss);
        c.prr_on_ack(kMss, 19 * kMss, /*safe_ack=*/false, kMss);
        ASSERT_NE(c.cwnd, ssthresh);
        c.on_recovery_end();
        EXPECT_EQ(c.cwnd, ssthresh);
        EXPECT_EQ(c.ssthresh, ssthresh);
        EXPECT_EQ(c.w_est, 0u);
        EXPECT_EQ(c.k_ms, 0u);
    }
}

// The counters live in CUBIC's epoch fields while recovery lasts; afterwards the epoch is closed,
// and the first ACK in congestion avoidance opens a new one from the window then.
TEST(PrrArithmetic, RecoveryHandsCubicsEpochBackClosed) {
    Controller c;
    c.start(Algorithm::Cubic, kMss);
    c.cwnd = 40 * kMss;
    c.ssthresh = 40 * kMss;
    c.on_ack({kMss, kMss, Nanos{std::chrono::seconds(1)}, 10ms});
    ASSERT_NE(c.w_est, 0u) << "an epoch is open";
    c.on_loss(40 * kMss, kMss, Nanos{std::chrono::seconds(2)});
    c.start_prr(40 * kMss, kMss);
    c.prr_on_ack(5 * kMss, 35 * kMss, false, kMss);
    c.prr_sent(3 * kMss);
    EXPECT_EQ(c.prr_recover_fs_segments, 40u);
    c.end_prr();
    EXPECT_EQ(c.w_est, 0u);
    EXPECT_EQ(c.k_ms, 0u);
    c.cwnd = c.ssthresh;
    c.on_ack({kMss, kMss, Nanos{std::chrono::seconds(3)}, 10ms});
    EXPECT_EQ(c.w_max, 40 * kMss);
    EXPECT_GT(c.k_ms, 0u) << "a new epoch, concave towards W_max";
    EXPECT_GE(c.w_est, 28 * kMss);
}

// --- the engine ---

class Prr : public LossRecovery {
  protected:
    // A connection under NewReno (with SACK unless told otherwise) whose handshake took kRtt,
    // with segments 10 to 29 in flight (slow start took cwnd to twenty segments when the first
    // ten were acknowledged).
    api::Connection twenty_in_flight(bool sack = true) {
        start_with(Algorithm::NewReno);
        handshake_rtt = kRtt;
        auto c = establish_passive(syn_options(kMss, sack));
        send(c, 60 * kMss);
        tx = Transmissions(our_seq);
        EXPECT_EQ(tx.see(take()).size(), 10u);
        advance(kRtt);
        ack(10 * kMss);
        EXPECT_EQ(tx.see(take()).size(), 20u);
        EXPECT_EQ(info_of(c).cwnd, 20 * kMss);
        advance(kRtt);
        return c;
    }
    // The first three ACKs after twenty_in_flight() with segment 10 missing: the first two let
    // one new segment go each (limited transmit, RFC 3042), the third begins recovery with
    // ssthresh `ssthresh` and resends 10 first. Returns whether the recovery has begun.
    bool recovery_begun(api::Connection c, std::uint32_t ack_number,
                        const std::vector<std::uint32_t>& sent, std::uint32_t ssthresh) {
        if (ack_number < 3) {
            EXPECT_EQ(sent.size(), 1u) << "limited transmit, ACK " << ack_number;
            return false;
        }
        if (ack_number == 3) {
            EXPECT_TRUE(info_of(c).in_recovery);
            EXPECT_EQ(info_of(c).ssthresh, ssthresh);
            EXPECT_FALSE(sent.empty());
            if (!sent.empty()) {
                EXPECT_EQ(sent.front(), 10 * kMss) << "the fast retransmit";
            }
        }
        return true;
    }
    Transmissions tx{0};
};

// Segment 10 lost; 11 to 30 arrive one by one (30 and 31 went by limited transmit on the first
// two). The third SACKed segment begins recovery: ssthresh 10 segments (half the window; the
// limited-transmit segments are left out, RFC 3042 2), RecoverFS 20 (22 outstanding before that
// ACK, less the 2 SACKed before it). From then on every ACK's sends keep the total at
// ssthresh/RecoverFS of what was delivered, in whole segments, so new data goes all through
// recovery, about one segment per two ACKs; RFC 6675 alone (cwnd = ssthresh at once) would send
// nothing until the pipe fell to ssthresh, six ACKs later. The retransmission's ACK ends recovery
// with the window at ssthresh and about ssthresh in flight.
TEST_F(Prr, NewDataGoesInProportionFromTheFirstAckOfRecovery) {
    auto c = twenty_in_flight();
    const std::uint32_t ssthresh = 10 * kMss;
    const std::uint32_t recover_fs = 20 * kMss;
    std::uint32_t delivered = 0;
    for (std::uint32_t i = 1; i <= 19; ++i) {
        ack(10 * kMss, {{11 * kMss, (11 + i) * kMss}});
        if (!recovery_begun(c, i, tx.see(take()), ssthresh))
            continue;
        delivered += kMss;
        const std::uint32_t allowed = proportional_allowance(delivered, ssthresh, recover_fs);
        // prr_out: the fast retransmit and the new segments, each whole.
        const std::uint32_t out = (1 + static_cast<std::uint32_t>(tx.fresh().size()) - 32) * kMss;
        EXPECT_LE(out, std::max(allowed, kMss)) << "ACK " << i;
        // In the pipe: 10 resent, the originals not SACKed yet ((11 + i) to 31), and the new.
        const std::uint32_t pipe =
            (1 + (21 - i) + static_cast<std::uint32_t>(tx.fresh().size()) - 32) * kMss;
        if (pipe > ssthresh) {
            EXPECT_GT(out + kMss, allowed) << "ACK " << i << ": held back more than a segment";
        }
        if (i == 8) {
            EXPECT_GE(tx.fresh().size(), 32u + 2) << "new data within the first six ACKs";
        }
    }
    EXPECT_EQ(tx.retransmitted().size(), 1u) << "only segment 10 was resent";
    ack(tx.end());
    EXPECT_FALSE(info_of(c).in_recovery);
    EXPECT_EQ(info_of(c).cwnd, ssthresh) << "RFC 9937: the window is ssthresh after recovery";
    EXPECT_EQ(counters_.tcp_timeouts, 0u);
}

// Fifteen of the twenty lost (10 to 24), 25 to 31 arriving one by one (30 and 31 went by limited
// transmit): when recovery begins the pipe is half of ssthresh. RFC 6675 would fill it up to
// ssthresh at once, a burst of five retransmissions; PRR lets the fast retransmit and one more go
// (the conservative bound: one segment delivered), then one segment per ACK.
TEST_F(Prr, BelowSsthreshEachAckLetsOneSegmentGo) {
    auto c = twenty_in_flight();
    for (std::uint32_t i = 1; i <= 7; ++i) {
        ack(10 * kMss, {{25 * kMss, (25 + i) * kMss}});
        const auto sent = tx.see(take());
        if (i < 3) {
            EXPECT_EQ(sent, std::vector<std::uint32_t>{(29 + i) * kMss}) << "limited transmit";
            continue;
        }
        ASSERT_TRUE(info_of(c).in_recovery) << "ACK " << i;
        EXPECT_EQ(sent.size(), i == 3 ? 2u : 1u) << "ACK " << i;
        EXPECT_LE(info_of(c).cwnd, info_of(c).ssthresh);
    }
    EXPECT_EQ(tx.retransmitted().size(), 6u) << "10 to 15, one each";
    EXPECT_EQ(tx.retransmitted().rbegin()->first, 15 * kMss);
    EXPECT_EQ(counters_.tcp_timeouts, 0u);
}

// Without SACK (RFC 9937 5) each duplicate ACK is taken to have delivered a segment, and PRR runs
// on that: 10 lost, 22 outstanding when the third duplicate began recovery (30 and 31 went by
// limited transmit), ssthresh 10 segments. New data goes in proportion from the fifth ACK of
// recovery on; RFC 5681's window inflation alone (cwnd = ssthresh) would send nothing new until
// the pipe fell below ssthresh, at the thirteenth duplicate.
TEST_F(Prr, WithoutSackEachDuplicateCountsAsOneSegmentDelivered) {
    auto c = twenty_in_flight(/*sack=*/false);
    const std::uint32_t ssthresh = 10 * kMss;
    const std::uint32_t recover_fs = 22 * kMss;
    for (std::uint32_t k = 1; k <= 12; ++k) {
        ack(10 * kMss);
        if (!recovery_begun(c, k, tx.see(take()), ssthresh))
            continue;
        const auto fresh = static_cast<std::uint32_t>(tx.fresh().size()) - 32;
        const std::uint32_t allowed = proportional_allowance((k - 2) * kMss, ssthresh, recover_fs);
        const std::uint32_t out = (1 + fresh) * kMss;
        EXPECT_LE(out, std::max(allowed, kMss)) << "duplicate " << k;
        // The pipe: what is out less a segment per duplicate.
        if ((22 + fresh - k) * kMss > ssthresh) {
            EXPECT_GT(out + kMss, allowed)
                << "duplicate " << k << ": held back more than a segment";
        }
    }
    EXPECT_EQ(tx.fresh().size(), 32u + 3)
        << "three new segments by the twelfth duplicate, where RFC 5681 would have sent none";
    EXPECT_EQ(tx.retransmitted().size(), 1u);
    ack(tx.end());
    EXPECT_FALSE(info_of(c).in_recovery);
    EXPECT_EQ(info_of(c).cwnd, ssthresh) << "RFC 9937: the window is ssthresh after recovery";
}

}  // namespace
}  // namespace sluice::test
