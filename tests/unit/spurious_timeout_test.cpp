// A retransmission timeout shown spurious, and undone: by the timestamp the peer echoes (RFC 3522,
// the Eifel detection algorithm, with RFC 4015's response) or by D-SACKs for every segment it
// resent (RFC 3708). A timeout that repaired a real loss keeps its cut and its go-back-N.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/loss_recovery_fixture.hpp"

namespace sluice::test {
namespace {

using namespace loss;
using Offsets = std::vector<std::uint32_t>;

class SpuriousTimeout : public LossRecovery {
  protected:
    // A connection whose handshake took kRtt, with SACK and timestamps as asked; `n` bytes
    // queued and the first ten segments (the initial window) sent. Records the TSval they carry.
    api::Connection start_sending(std::uint32_t n, bool sack, bool timestamps) {
        start_with(Algorithm::NewReno);
        handshake_rtt = kRtt;
        auto c = establish_passive(syn_options(kMss, sack, timestamps));
        EXPECT_EQ(info_of(c).sack, sack);
        send(c, n);
        tx = Transmissions(our_seq);
        const std::vector<Sent> first = take();
        EXPECT_EQ(tx.see(first).size(), 10u);
        seg = static_cast<std::uint32_t>(first.front().payload.size());
        if (timestamps) {
            EXPECT_TRUE(first.front().tcp.options.timestamps.has_value());
            original_ts = first.front().tcp.options.timestamps->value;
        }
        return c;
    }
    // Time passes until the retransmission timer fires; returns what it sent.
    Offsets time_out() {
        const std::uint64_t before = counters_.tcp_timeouts;
        for (int i = 0; i < 5000 && counters_.tcp_timeouts == before; ++i)
            advance(1ms);
        EXPECT_EQ(counters_.tcp_timeouts, before + 1);
        const std::vector<Sent> out = take();
        for (const Sent& s : out) {
            if (!s.payload.empty() && s.tcp.options.timestamps)
                retransmission_ts = s.tcp.options.timestamps->value;
        }
        return tx.see(out);
    }
    // An ACK of our_seq + `offset` echoing `echo` (RFC 7323 3.2's TSecr).
    void ack_echoing(std::uint32_t offset, std::uint32_t echo) {
        wire::TcpOptions o;
        o.timestamps = wire::TcpTimestamps{peer_ts++, echo};
        inject(Seg{.seq = peer_seq,
                   .ack = our_seq + offset,
                   .window = 65535,
                   .options = o,
                   .source_port = peer_port});
    }
    Transmissions tx{0};
    std::uint32_t seg = 0;  // bytes per segment: kMss, less 12 with timestamps (RFC 7323 3.2)
    std::uint32_t original_ts = 0;
    std::uint32_t retransmission_ts = 0;
    std::uint32_t peer_ts = 101;  // after the SYN's 100
};

// RFC 3522 2 and RFC 4015 3: the timeout resent segment 0 and cut cwnd to one segment; then the
// ACK for the first five arrives echoing the TSval of the original transmissions, so nothing was
// lost. cwnd and ssthresh go back to where they were, and the next segments are new data, not
// the rest of the window again (SND.NXT = SND.MAX).
TEST_F(SpuriousTimeout, AnAckForTheOriginalTransmissionUndoesTheTimeout) {
    auto c = start_sending(30 * kMss, /*sack=*/false, /*timestamps=*/true);
    const std::uint32_t ssthresh = info_of(c).ssthresh;
    ASSERT_EQ(time_out(), Offsets{0});
    ASSERT_EQ(info_of(c).cwnd, seg) << "RFC 5681 3.1's loss window";
    ASSERT_LT(static_cast<std::int32_t>(original_ts - retransmission_ts), 0);

    ack_echoing(5 * seg, original_ts);
    EXPECT_EQ(counters_.tcp_spurious_timeouts, 1u);
    EXPECT_GE(info_of(c).cwnd, 10 * seg);
    EXPECT_EQ(info_of(c).ssthresh, ssthresh);
    const Offsets next = tx.see(take());
    ASSERT_FALSE(next.empty());
    for (const std::uint32_t offset : next)
        EXPECT_GE(offset, 10 * seg) << "new data, not segments 5 to 9 again";
    EXPECT_EQ(tx.retransmitted().size(), 1u) << "only the timeout's own retransmission";
}

// The original of segment 0 was lost: the peer's ACK echoes the retransmission's TSval (RFC 7323
// 4.3: the segment that filled the hole). The timeout stands: the window stays cut and
// go-back-N resends segment 5 next.
TEST_F(SpuriousTimeout, AnAckForTheRetransmissionKeepsTheTimeout) {
    auto c = start_sending(30 * kMss, /*sack=*/false, /*timestamps=*/true);
    ASSERT_EQ(time_out(), Offsets{0});
    ack_echoing(5 * seg, retransmission_ts);
    EXPECT_EQ(counters_.tcp_spurious_timeouts, 0u);
    EXPECT_EQ(info_of(c).ssthresh, 5 * seg) << "RFC 5681 eq. 4: half the ten in flight";
    EXPECT_LT(info_of(c).cwnd, 10 * seg);
    const Offsets next = tx.see(take());
    ASSERT_FALSE(next.empty());
    EXPECT_EQ(next.front(), 5 * seg) << "go-back-N goes on";
}

// Backed off twice in a row, the episode's first cut is what an undo restores: the second
// timeout does not take the window the first left (one segment) as the one to go back to.
TEST_F(SpuriousTimeout, ASecondTimeoutInARowKeepsTheFirstOnesWindow) {
    auto c = start_sending(30 * kMss, /*sack=*/false, /*timestamps=*/true);
    const std::uint32_t ssthresh = info_of(c).ssthresh;
    ASSERT_EQ(time_out(), Offsets{0});
    const std::uint32_t first_retransmission_ts = retransmission_ts;
    ASSERT_EQ(time_out(), Offsets{0});
    ASSERT_LT(static_cast<std::int32_t>(first_retransmission_ts - retransmission_ts), 0);
    ack_echoing(5 * seg, original_ts);
    EXPECT_EQ(counters_.tcp_spurious_timeouts, 1u);
    EXPECT_GE(info_of(c).cwnd, 10 * seg);
    EXPECT_EQ(info_of(c).ssthresh, ssthresh);
}

// Without timestamps, with SACK (RFC 3708): after the timeout the cumulative ACK covers all that
// was sent, then the peer D-SACKs the retransmission of segment 0: the original had arrived,
// and the window cut is taken back. A D-SACK again changes nothing.
TEST_F(SpuriousTimeout, ADSackForEveryRetransmissionUndoesTheTimeout) {
    auto c = start_sending(30 * kMss, /*sack=*/true, /*timestamps=*/false);
    const std::uint32_t ssthresh = info_of(c).ssthresh;
    // A tail loss probe goes before the timeout (RFC 8985 7), with new data.
    time_out();
    ASSERT_EQ(tx.retransmitted().size(), 1u);
    ASSERT_EQ(tx.retransmitted().count(0), 1u);
    ack(tx.end());
    EXPECT_EQ(counters_.tcp_spurious_timeouts, 0u);
    EXPECT_LT(info_of(c).cwnd, 10 * seg);
    tx.see(take());
    ack(tx.end(), {{0, seg}});
    EXPECT_EQ(counters_.tcp_spurious_timeouts, 1u);
    EXPECT_GE(info_of(c).cwnd, 10 * seg);
    EXPECT_EQ(info_of(c).ssthresh, ssthresh);
    ack(tx.end(), {{0, seg}});
    EXPECT_EQ(counters_.tcp_spurious_timeouts, 1u);
}

// A D-SACK for data the timeout did not resend (the network duplicated it) says nothing of the
// timeout: the cut stays.
TEST_F(SpuriousTimeout, ADSackForOtherDataKeepsTheTimeout) {
    auto c = start_sending(30 * kMss, /*sack=*/true, /*timestamps=*/false);
    time_out();
    ASSERT_EQ(tx.retransmitted().count(0), 1u);
    ack(tx.end());
    tx.see(take());
    ack(tx.end(), {{3 * seg, 4 * seg}});
    EXPECT_EQ(counters_.tcp_dsack_received, 1u);
    EXPECT_EQ(counters_.tcp_spurious_timeouts, 0u);
    EXPECT_LT(info_of(c).cwnd, 10 * seg);
}

}  // namespace
}  // namespace sluice::test
