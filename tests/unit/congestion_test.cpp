// The congestion controllers on their own (dataplane/tcp/congestion/), against the RFCs' formulas
// computed here: CUBIC's window curve, its K, its multiplicative decrease and fast convergence,
// and the window it follows ACK by ACK after a loss, concave then convex, or Reno-friendly
// (RFC 9438 4.2 to 4.7); NewReno's slow start in bytes acknowledged, congestion avoidance, and
// its reactions to a loss and to a timeout (RFC 5681 3.1, 3.2; RFC 3465); the algorithms' names.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "dataplane/tcp/congestion/controller.hpp"
#include "dataplane/tcp/congestion/cubic.hpp"
#include "dataplane/tcp/congestion/new_reno.hpp"

namespace sluice::tcp::congestion {
namespace {

using namespace std::chrono_literals;

// RFC 9438 5 and 4.6: the constants, written out here rather than taken from cubic.hpp.
constexpr double kRfcC = 0.4;
constexpr double kRfcBeta = 0.7;
// RFC 9438 4.3: alpha_cubic = 3 * (1 - beta) / (1 + beta).
constexpr double kRfcAlpha = 3.0 * (1.0 - kRfcBeta) / (1.0 + kRfcBeta);

// RFC 9438 4.2, eq. 1 and eq. 2, in segments and seconds.
double rfc_w_cubic(double t, double k, double w_max) {
    return kRfcC * std::pow(t - k, 3.0) + w_max;
}
double rfc_k(double w_max, double cwnd_epoch) {
    return std::cbrt((w_max - cwnd_epoch) / kRfcC);
}

constexpr std::uint32_t kMss = 1000;
constexpr std::uint32_t kUnlimited = std::numeric_limits<std::uint32_t>::max();

// --- CUBIC's curve (RFC 9438 4.2) ---

TEST(CubicFormula, TheConstantsAreTheRfcs) {
    EXPECT_DOUBLE_EQ(cubic::kC, kRfcC);
    EXPECT_DOUBLE_EQ(cubic::kBeta, kRfcBeta);
    EXPECT_NEAR(cubic::kAlpha, kRfcAlpha, 1e-12);
}

TEST(CubicFormula, KIsTheTimeTheCurveTakesBackToWMax) {
    for (const auto& [w_max, cwnd_epoch] :
         std::vector<std::pair<double, double>>{{100, 70}, {10, 7}, {1000, 700}, {64, 40}}) {
        const double k = cubic::k(w_max, cwnd_epoch);
        EXPECT_NEAR(k, rfc_k(w_max, cwnd_epoch), 1e-9) << w_max << " " << cwnd_epoch;
    }
    // W_max 100, cwnd_epoch 70: K = cbrt(30 / 0.4) = cbrt(75).
    EXPECT_NEAR(cubic::k(100, 70), 4.2171633265, 1e-9);
}

TEST(CubicFormula, KIsZeroAtOrAboveWMax) {
    EXPECT_EQ(cubic::k(100, 100), 0.0);
    EXPECT_EQ(cubic::k(100, 120), 0.0);
}

TEST(CubicFormula, TheWindowFollowsTheRfcCurveAtZeroHalfKKAndTwiceK) {
    for (const auto& [w_max, cwnd_epoch] :
         std::vector<std::pair<double, double>>{{100, 70}, {10, 7}, {1000, 700}, {64, 40}}) {
        const double k = rfc_k(w_max, cwnd_epoch);
        for (const double t : {0.0, k / 2, k, 2 * k}) {
            EXPECT_NEAR(cubic::window(t, k, w_max), rfc_w_cubic(t, k, w_max), 1e-9)
                << "W_max " << w_max << " t " << t;
        }
        // The curve's landmarks: it starts at cwnd_epoch, reaches W_max at K, and is as far above
        // W_max at 2K as it was below at 0.
        EXPECT_NEAR(cubic::window(0, k, w_max), cwnd_epoch, 1e-9);
        EXPECT_NEAR(cubic::window(k, k, w_max), w_max, 1e-9);
        EXPECT_NEAR(cubic::window(2 * k, k, w_max), 2 * w_max - cwnd_epoch, 1e-9);
        // Concave before K (it rose more in the first half than in the second), convex after.
        const double first_half = cubic::window(k / 2, k, w_max) - cubic::window(0, k, w_max);
        const double second_half = cubic::window(k, k, w_max) - cubic::window(k / 2, k, w_max);
        EXPECT_GT(first_half, second_half);
        const double third_half = cubic::window(1.5 * k, k, w_max) - cubic::window(k, k, w_max);
        const double fourth_half =
            cubic::window(2 * k, k, w_max) - cubic::window(1.5 * k, k, w_max);
        EXPECT_LT(third_half, fourth_half);
    }
}

// --- CUBIC's multiplicative decrease and fast convergence (RFC 9438 4.6, 4.7) ---

TEST(CubicDecrease, ALossSetsSsthreshToSevenTenthsOfTheWindow) {
    Controller c;
    c.start(Algorithm::Cubic, kMss);
    c.cwnd = 100 * kMss;
    c.on_loss(/*flight_size=*/100 * kMss, kMss, Nanos{0});
    EXPECT_EQ(c.ssthresh, 70 * kMss) << "ssthresh = cwnd * beta_cubic";
    EXPECT_EQ(c.cwnd, c.ssthresh) << "cwnd = ssthresh";
    EXPECT_EQ(c.w_max, 100 * kMss) << "W_max: the window at the loss";
}

TEST(CubicDecrease, FastConvergenceLowersWMaxWhenTheWindowDidNotRegainIt) {
    Controller c;
    c.start(Algorithm::Cubic, kMss);
    c.cwnd = 100 * kMss;
    c.on_loss(100 * kMss, kMss, Nanos{0});
    ASSERT_EQ(c.w_max, 100 * kMss);
    // A second loss at 80 segments, below the last W_max: W_max = cwnd * (1 + beta) / 2.
    c.cwnd = 80 * kMss;
    c.on_loss(80 * kMss, kMss, Nanos{0});
    EXPECT_EQ(c.w_max, static_cast<std::uint32_t>(80 * kMss * (1 + kRfcBeta) / 2));
    EXPECT_EQ(c.w_max, 68 * kMss);
    EXPECT_EQ(c.ssthresh, 56 * kMss) << "ssthresh = 0.7 * cwnd still";
    EXPECT_EQ(c.cwnd, 56 * kMss);
    // A loss at or above W_max remembers the window as it is.
    c.cwnd = 90 * kMss;
    c.on_loss(90 * kMss, kMss, Nanos{0});
    EXPECT_EQ(c.w_max, 90 * kMss);
    EXPECT_EQ(c.ssthresh, 63 * kMss) << "90000 * 0.7, not 62999.99... cut to 62999";
}

TEST(CubicDecrease, SsthreshNeverFallsBelowTwoSegments) {
    Controller c;
    c.start(Algorithm::Cubic, kMss);
    c.cwnd = 2 * kMss;
    c.on_loss(2 * kMss, kMss, Nanos{0});
    EXPECT_EQ(c.ssthresh, 2 * kMss);
    EXPECT_EQ(c.cwnd, 2 * kMss);
}

TEST(CubicDecrease, ATimeoutLeavesOneSegment) {
    Controller c;
    c.start(Algorithm::Cubic, kMss);
    c.cwnd = 100 * kMss;
    c.on_retransmit_timeout(100 * kMss, kMss, Nanos{0});
    EXPECT_EQ(c.ssthresh, 70 * kMss);
    EXPECT_EQ(c.cwnd, kMss) << "RFC 5681 3.1: the loss window";
}

// --- CUBIC driven ACK by ACK (RFC 9438 4.2 to 4.5) ---

// A flow whose every segment is acknowledged on its own, one window per round trip, with a
// manual clock: what the sender would see on a clean path after a loss.
class CubicFlow {
  public:
    CubicFlow(std::uint32_t window_segments, Nanos rtt) : rtt_(rtt) {
        c_.start(Algorithm::Cubic, kMss);
        c_.cwnd = window_segments * kMss;
        c_.ssthresh = kUnlimited;
    }
    Controller& controller() { return c_; }
    void loss() { c_.on_loss(c_.cwnd, kMss, now_); }
    // One round trip: the window at its start acknowledged a segment at a time, the ACKs spread
    // over the round. Returns the window at the end of it.
    std::uint32_t round() {
        const std::uint32_t acks = std::max<std::uint32_t>(c_.cwnd / kMss, 1);
        const Nanos start = now_;
        for (std::uint32_t i = 0; i < acks; ++i) {
            const std::uint32_t before = c_.cwnd;
            c_.on_ack(AckSample{kMss, kMss, start + rtt_ * i / acks, rtt_});
            // RFC 9438 4.3 eq. 4: W_est grows by alpha * segments_acked / cwnd (alpha 1 once
            // W_est has reached W_max), computed here independently.
            const double alpha = rfc_w_est_ >= w_max_segments_ ? 1.0 : kRfcAlpha;
            rfc_w_est_ += alpha * 1.0 / (static_cast<double>(before) / kMss);
            ++acks_;
        }
        now_ = start + rtt_;
        return c_.cwnd;
    }
    // Seconds since the epoch began (the first ACK after the loss).
    double elapsed() const { return std::chrono::duration<double>(now_ - epoch_).count(); }
    void begin_epoch(double w_max_segments, double cwnd_segments) {
        epoch_ = now_;
        w_max_segments_ = w_max_segments;
        rfc_w_est_ = cwnd_segments;
    }
    double rfc_w_est() const { return rfc_w_est_; }
    std::uint64_t acks() const { return acks_; }

  private:
    Controller c_;
    Nanos rtt_;
    Nanos now_{std::chrono::seconds(5000)};
    Nanos epoch_{0};
    double w_max_segments_ = 0;
    double rfc_w_est_ = 0;
    std::uint64_t acks_ = 0;
};

// W_max 100 segments, 70 after the loss: K = cbrt(75) = 4.217 s, 42 round trips of 100 ms. The
// window climbs back to W_max by K, fast at first and slowly near it (concave), stays there, then
// probes beyond it ever faster (convex); W_est (about 0.53 segments a round trip) stays below
// W_cubic throughout, so this is the cubic region.
TEST(CubicFlowTest, AfterALossTheWindowReturnsToWMaxNearKConcaveThenConvex) {
    CubicFlow flow(100, 100ms);
    flow.loss();
    ASSERT_EQ(flow.controller().cwnd, 70 * kMss);
    ASSERT_EQ(flow.controller().ssthresh, 70 * kMss);
    flow.begin_epoch(100, 70);
    const double k = rfc_k(100, 70);

    std::vector<double> window;  // segments, at the end of each round
    std::vector<double> at;      // seconds since the epoch, then
    for (int r = 0; r < 90; ++r) {
        window.push_back(static_cast<double>(flow.round()) / kMss);
        at.push_back(flow.elapsed());
    }
    const auto round_ending_near = [&](double t) {
        std::size_t best = 0;
        for (std::size_t i = 0; i < at.size(); ++i) {
            if (std::abs(at[i] - t) < std::abs(at[best] - t))
                best = i;
        }
        return best;
    };
    for (const double t : {k / 2, k, 1.5 * k, 2 * k}) {
        const std::size_t r = round_ending_near(t);
        const double expected = rfc_w_cubic(at[r], k, 100);
        EXPECT_NEAR(window[r], expected, 0.01 * expected + 0.5)
            << "t = " << at[r] << " s (K = " << k << " s)";
    }
    // Back at W_max near K, and not much sooner: below 99% of it before K/2 ...
    const std::size_t at_k = round_ending_near(k);
    EXPECT_NEAR(window[at_k], 100.0, 1.0);
    EXPECT_LT(window[round_ending_near(k / 2)], 97.0);
    // ... never far above it before K ...
    for (std::size_t r = 0; r <= at_k; ++r)
        EXPECT_LE(window[r], 100.5) << "round " << r;
    // ... concave: each stretch of ten round trips adds less than the one before, up to K ...
    const auto growth = [&](std::size_t from, std::size_t to) { return window[to] - window[from]; };
    EXPECT_GT(window[0], 70.0);
    EXPECT_GT(growth(0, 10), growth(10, 20));
    EXPECT_GT(growth(10, 20), growth(20, 30));
    EXPECT_GT(growth(20, 30), growth(30, 40));
    // ... and convex after it: each adds more than the one before.
    EXPECT_LT(growth(45, 55), growth(55, 65));
    EXPECT_LT(growth(55, 65), growth(65, 75));
    EXPECT_LT(growth(65, 75), growth(75, 85));
    EXPECT_GT(window.back(), 130.0) << "well past W_max by 2K";
    // The Reno-friendly estimate never caught up: the cubic region all along.
    EXPECT_LT(flow.rfc_w_est(), window.back());
}

// A short round trip (1 ms) and a small window: W_cubic barely moves in the milliseconds that
// pass, while W_est grows alpha_cubic segments a round trip (one once past W_max), so the window
// follows W_est (RFC 9438 4.4, the Reno-friendly region).
TEST(CubicFlowTest, WithAShortRoundTripTheWindowFollowsTheRenoFriendlyEstimate) {
    CubicFlow flow(20, 1ms);
    flow.loss();
    ASSERT_EQ(flow.controller().cwnd, 14 * kMss);
    ASSERT_EQ(flow.controller().w_max, 20 * kMss);
    flow.begin_epoch(20, 14);
    const double k = rfc_k(20, 14);
    for (int r = 0; r < 40; ++r) {
        const double window = static_cast<double>(flow.round()) / kMss;
        const double w_cubic = rfc_w_cubic(flow.elapsed(), k, 20);
        const double w_est = flow.rfc_w_est();
        // The engine keeps W_est in whole bytes: a byte at most lost on each ACK.
        const double slack = 0.01 * w_est + static_cast<double>(flow.acks()) / kMss + 0.1;
        EXPECT_NEAR(window, w_est, slack) << "round " << r;
        if (r >= 5) {
            EXPECT_GT(window, w_cubic + 2.0) << "round " << r << ": above W_cubic";
        }
    }
    // 40 round trips: about 11 segments at alpha to reach W_max, then one a round trip.
    EXPECT_GT(flow.rfc_w_est(), 40.0);
    EXPECT_GT(flow.controller().cwnd, 40 * kMss);
}

TEST(CubicFlowTest, WithoutALossYetAvoidanceStartsAtTheWindowAsWMax) {
    Controller c;
    c.start(Algorithm::Cubic, kMss);
    c.cwnd = 30 * kMss;
    c.ssthresh = 30 * kMss;  // congestion avoidance, no congestion event seen
    c.on_ack(AckSample{kMss, kMss, Nanos{std::chrono::seconds(10)}, 10ms});
    EXPECT_EQ(c.w_max, 30 * kMss) << "RFC 9438 4.2: W_max is the window when avoidance begins";
    EXPECT_EQ(c.k_ms, 0) << "K = 0: the convex region at once";
    EXPECT_GE(c.cwnd, 30 * kMss);
}

TEST(CubicFlowTest, SlowStartBelowSsthreshCountsBytes) {
    Controller c;
    c.start(Algorithm::Cubic, kMss);
    ASSERT_EQ(c.cwnd, 10 * kMss);
    c.on_ack(AckSample{4 * kMss, kMss, Nanos{0}, 10ms});
    EXPECT_EQ(c.cwnd, 14 * kMss);
}

// --- NewReno (RFC 5681 3.1, 3.2; RFC 3465) ---

TEST(NewRenoTest, StartsWithTenSegmentsAndNoThreshold) {
    Controller c;
    c.start(Algorithm::NewReno, kMss);
    EXPECT_EQ(c.cwnd, 10 * kMss) << "RFC 6928";
    EXPECT_EQ(c.ssthresh, kUnlimited) << "RFC 5681 3.1: arbitrarily high";
    EXPECT_EQ(c.algorithm, Algorithm::NewReno);
}

TEST(NewRenoTest, SlowStartCountsTheBytesAcknowledged) {
    Controller c;
    c.start(Algorithm::NewReno, kMss);
    // RFC 3465: one ACK for three segments grows the window by three segments.
    c.on_ack(AckSample{3 * kMss, kMss, Nanos{0}, 10ms});
    EXPECT_EQ(c.cwnd, 13 * kMss);
    // A partial segment counts as its bytes.
    c.on_ack(AckSample{500, kMss, Nanos{0}, 10ms});
    EXPECT_EQ(c.cwnd, 13 * kMss + 500);
    // Slow start ends at ssthresh.
    c.ssthresh = 15 * kMss;
    c.on_ack(AckSample{10 * kMss, kMss, Nanos{0}, 10ms});
    EXPECT_EQ(c.cwnd, 15 * kMss);
}

TEST(NewRenoTest, CongestionAvoidanceAddsAboutOneSegmentPerWindowAcknowledged) {
    Controller c;
    c.start(Algorithm::NewReno, kMss);
    c.cwnd = 10 * kMss;
    c.ssthresh = 10 * kMss;
    // A segment at a time, a window's worth (RFC 5681 eq. 3: SMSS * SMSS / cwnd each).
    for (int i = 0; i < 10; ++i)
        c.on_ack(AckSample{kMss, kMss, Nanos{0}, 10ms});
    EXPECT_GE(c.cwnd, 10 * kMss + 9 * kMss / 10);
    EXPECT_LE(c.cwnd, 11 * kMss);
    // The whole window in one ACK (RFC 3465 byte counting): exactly one segment.
    c.cwnd = 20 * kMss;
    c.ssthresh = 20 * kMss;
    c.on_ack(AckSample{20 * kMss, kMss, Nanos{0}, 10ms});
    EXPECT_EQ(c.cwnd, 21 * kMss);
    // Ten windows, one ACK per segment: about ten segments.
    c.cwnd = 10 * kMss;
    c.ssthresh = 10 * kMss;
    for (int round = 0; round < 10; ++round) {
        const std::uint32_t acks = c.cwnd / kMss;
        for (std::uint32_t i = 0; i < acks; ++i)
            c.on_ack(AckSample{kMss, kMss, Nanos{0}, 10ms});
    }
    EXPECT_GE(c.cwnd, 19 * kMss);
    EXPECT_LE(c.cwnd, 20 * kMss);
}

TEST(NewRenoTest, ALossHalvesTheFlightSizeButNotBelowTwoSegments) {
    Controller c;
    c.start(Algorithm::NewReno, kMss);
    c.cwnd = 30 * kMss;
    // RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2 * SMSS), from FlightSize, not cwnd.
    c.on_loss(/*flight_size=*/20 * kMss, kMss, Nanos{0});
    EXPECT_EQ(c.ssthresh, 10 * kMss);
    EXPECT_EQ(c.cwnd, 10 * kMss) << "cwnd = ssthresh";
    c.on_loss(3 * kMss, kMss, Nanos{0});
    EXPECT_EQ(c.ssthresh, 2 * kMss);
    EXPECT_EQ(c.cwnd, 2 * kMss);
    c.on_loss(15 * kMss + 1, kMss, Nanos{0});
    EXPECT_EQ(c.ssthresh, (15 * kMss + 1) / 2);
    EXPECT_EQ(new_reno::ssthresh_after_loss(20 * kMss, kMss), 10 * kMss);
    EXPECT_EQ(new_reno::ssthresh_after_loss(0, kMss), 2 * kMss);
}

TEST(NewRenoTest, ATimeoutLeavesOneSegmentAndHalvesTheFlightSize) {
    Controller c;
    c.start(Algorithm::NewReno, kMss);
    c.cwnd = 30 * kMss;
    c.on_retransmit_timeout(/*flight_size=*/24 * kMss, kMss, Nanos{0});
    EXPECT_EQ(c.cwnd, kMss) << "RFC 5681 3.1: the loss window is one segment";
    EXPECT_EQ(c.ssthresh, 12 * kMss);
    // Then slow start again, up to ssthresh.
    c.on_ack(AckSample{kMss, kMss, Nanos{0}, 10ms});
    EXPECT_EQ(c.cwnd, 2 * kMss);
}

TEST(NewRenoTest, ByteCountingNeverWraps) {
    std::uint32_t cwnd = kUnlimited - 10;
    new_reno::on_ack(cwnd, kUnlimited, kMss);
    EXPECT_EQ(cwnd, kUnlimited);
    Controller c;
    c.start(Algorithm::NewReno, kMss);
    c.cwnd = kUnlimited - 10;
    c.ssthresh = kUnlimited;
    c.on_ack(AckSample{kUnlimited, kMss, Nanos{0}, 10ms});
    EXPECT_EQ(c.cwnd, kUnlimited);
}

// --- switching, names ---

TEST(ControllerTest, SwitchingAlgorithmKeepsTheWindow) {
    Controller c;
    c.start(Algorithm::Cubic, kMss);
    c.cwnd = 50 * kMss;
    c.on_loss(50 * kMss, kMss, Nanos{0});
    c.switch_to(Algorithm::NewReno);
    EXPECT_EQ(c.algorithm, Algorithm::NewReno);
    EXPECT_EQ(c.cwnd, 35 * kMss);
    EXPECT_EQ(c.ssthresh, 35 * kMss);
    c.on_loss(30 * kMss, kMss, Nanos{0});
    EXPECT_EQ(c.ssthresh, 15 * kMss) << "NewReno's rule from now on";
}

TEST(ControllerTest, TheDefaultIsCubic) {
    EXPECT_EQ(kDefaultAlgorithm, Algorithm::Cubic);
}

TEST(AlgorithmNames, RoundTrip) {
    for (const Algorithm a : {Algorithm::NewReno, Algorithm::Cubic}) {
        const auto parsed = parse_algorithm(algorithm_name(a));
        ASSERT_TRUE(parsed.has_value()) << algorithm_name(a);
        EXPECT_EQ(*parsed, a);
    }
    EXPECT_EQ(algorithm_name(Algorithm::NewReno), "newreno");
    EXPECT_EQ(algorithm_name(Algorithm::Cubic), "cubic");
}

TEST(AlgorithmNames, UnknownNamesAreRefused) {
    for (const std::string_view name :
         {"", "reno", "bbr", "dctcp", "vegas", "cubic ", " newreno", "new reno", "newreno2"}) {
        EXPECT_FALSE(parse_algorithm(name).has_value()) << "'" << name << "'";
    }
}

// RACK's reordering window multiplier (RFC 8985 6.2 step 4), kept in the controller's spare
// byte: a D-SACK widens it a step, up to 16; sixteen recoveries without another bring it back to
// 1 (RACK.reo_wnd_persist); a D-SACK in between starts the count again.
TEST(ReorderingWindow, WidensOnDSacksAndNarrowsAfterSixteenRecoveriesWithoutOne) {
    Controller cc;
    cc.start(Algorithm::Cubic, 1000);
    EXPECT_EQ(cc.reo_wnd_mult(), 1u);
    cc.count_recovery_for_reo_wnd();
    EXPECT_EQ(cc.reo_wnd_mult(), 1u);

    cc.widen_reo_wnd();
    EXPECT_EQ(cc.reo_wnd_mult(), 2u);
    for (int i = 0; i < 10; ++i)
        cc.count_recovery_for_reo_wnd();
    cc.widen_reo_wnd();  // the count starts again
    EXPECT_EQ(cc.reo_wnd_mult(), 3u);
    for (int i = 0; i < 15; ++i)
        cc.count_recovery_for_reo_wnd();
    EXPECT_EQ(cc.reo_wnd_mult(), 3u) << "fifteen recoveries";
    cc.count_recovery_for_reo_wnd();
    EXPECT_EQ(cc.reo_wnd_mult(), 1u) << "the sixteenth";

    for (int i = 0; i < 40; ++i)
        cc.widen_reo_wnd();
    EXPECT_EQ(cc.reo_wnd_mult(), 16u) << "at most 16";
    cc.start(Algorithm::Cubic, 1000);
    EXPECT_EQ(cc.reo_wnd_mult(), 1u) << "a new connection";
}

}  // namespace
}  // namespace sluice::tcp::congestion
