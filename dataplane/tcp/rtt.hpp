// The retransmission timer's estimator, RFC 6298 2: SRTT and RTTVAR from samples (taken only from
// segments never retransmitted, Karn's rule, or from timestamps, RFC 7323 4), RTO with exponential
// backoff.
//
// Every connection has one, so it is kept small (12 bytes): microseconds in 32 bits (71 minutes,
// far beyond the 60-second RTO ceiling), and the configured bounds live once in RtoBounds instead
// of in every connection. The minimum RTT (RFC 8985's RACK.min_RTT) fits the two bytes that were
// padding, in units of 16 us (up to about one second), and when it was taken one byte more, in
// units of two seconds: a minimum older than five minutes gives way to the next sample, as
// Linux's windowed filter (tcp_min_rtt_wlen) lets a path that grew longer be seen as such.
#pragma once

#include <algorithm>
#include <cstdint>

#include "dataplane/timers/clock.hpp"

namespace sluice::tcp {

// The RTO's floor and ceiling (RFC 6298 2.4 and 2.5) and its value before any sample (2.1), one
// per stack.
struct RtoBounds {
    std::uint32_t min_us = 200'000;
    std::uint32_t max_us = 60'000'000;
    std::uint32_t initial_us = 1'000'000;

    static RtoBounds from(Nanos min_rto, Nanos max_rto, Nanos initial_rto) {
        return RtoBounds{to_us(min_rto), std::max(to_us(min_rto), to_us(max_rto)),
                         to_us(initial_rto)};
    }
    static std::uint32_t to_us(Nanos n) {
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(n).count();
        return static_cast<std::uint32_t>(std::clamp<std::int64_t>(us, 1, UINT32_MAX));
    }
};

// The RTO is computed when asked for, not kept: it follows from SRTT, RTTVAR, the bounds and the
// backoff, and keeping it would cost every connection four bytes.
class RttEstimator {
  public:
    // A sample timed in microseconds (a segment's send time), taken at `now`: SRTT, RTTVAR and
    // the minimum.
    void sample(Nanos rtt, Nanos now) {
        const std::int64_t r = RtoBounds::to_us(rtt);
        const auto units =
            static_cast<std::uint16_t>(std::clamp<std::int64_t>(r / kMinRttUnitUs, 1, UINT16_MAX));
        const auto stamp = min_rtt_stamp(now);
        const auto age = static_cast<std::uint8_t>(stamp - min_rtt_taken_);
        if (min_rtt_units_ == 0 || units <= min_rtt_units_ || age >= kMinRttWindowUnits) {
            min_rtt_units_ = units;
            min_rtt_taken_ = stamp;
        }
        smooth(r);
    }
    // A sample from a millisecond clock (the timestamp echo, RFC 7323 4): good enough for the
    // RTO, but on a path shorter than a millisecond it reads 0, and a minimum of 0 would leave
    // RACK no reordering window and no way to tell a retransmission's answer from its original's.
    void sample_coarse(Nanos rtt) { smooth(RtoBounds::to_us(rtt)); }
    // 5.7: the SYN or SYN-ACK was retransmitted and the handshake gave no sample: data starts
    // with an RTO of 3 s (or the initial RTO, if longer), not backed off.
    void lengthen_initial_rto() {
        long_initial_ = true;
        backoff_ = 0;
    }
    // 5.5: double the timer on each expiry, up to the maximum.
    void back_off() {
        if (backoff_ < 16)
            ++backoff_;
    }
    void reset_backoff() { backoff_ = 0; }

    Nanos rto(const RtoBounds& bounds) const {
        std::uint64_t base;
        if (has_sample()) {
            // 2.3: G, the clock granularity, is 1 ms (the timer wheel's tick).
            const std::uint64_t rto = std::uint64_t{srtt_us_} +
                                      std::max<std::uint64_t>(1000, 4 * std::uint64_t{rttvar_us_});
            base = std::clamp<std::uint64_t>(rto, bounds.min_us, bounds.max_us);
        } else {
            base = long_initial_ ? std::max<std::uint64_t>(bounds.initial_us, 3'000'000)
                                 : bounds.initial_us;
        }
        return std::chrono::microseconds(std::min<std::uint64_t>(base << backoff_, bounds.max_us));
    }
    Nanos srtt() const { return std::chrono::microseconds(srtt_us_); }
    // The smallest sample of the last five minutes or so (one taken earlier gives way to the
    // next sample, whatever it is; a smaller one replaces it at once), rounded down to 16 us (at
    // least 16); the smoothed RTT while there is none.
    Nanos min_rtt() const {
        return min_rtt_units_ == 0 ? srtt()
                                   : std::chrono::microseconds(min_rtt_units_ * kMinRttUnitUs);
    }
    Nanos rttvar() const { return std::chrono::microseconds(rttvar_us_); }
    bool has_sample() const { return srtt_us_ != 0; }
    std::uint8_t backoff() const { return backoff_; }

  private:
    void smooth(std::int64_t r) {
        if (srtt_us_ == 0) {
            srtt_us_ = static_cast<std::uint32_t>(r);  // 2.2
            rttvar_us_ = static_cast<std::uint32_t>(r / 2);
        } else {
            // 2.3, alpha = 1/8, beta = 1/4
            const std::int64_t srtt = srtt_us_;
            const std::int64_t delta = srtt > r ? srtt - r : r - srtt;
            rttvar_us_ = static_cast<std::uint32_t>((3 * std::int64_t{rttvar_us_} + delta) / 4);
            srtt_us_ = static_cast<std::uint32_t>((7 * srtt + r) / 8);
        }
        backoff_ = 0;
    }

    // The minimum's age counts two-second units in a byte, so it wraps after 512 s without a
    // sample: a minimum that old may then be kept up to as long again, or replaced early; either
    // only moves RACK's reordering window.
    static std::uint8_t min_rtt_stamp(Nanos now) {
        return static_cast<std::uint8_t>(
            std::chrono::duration_cast<std::chrono::seconds>(now).count() / 2);
    }

    static constexpr std::int64_t kMinRttUnitUs = 16;
    static constexpr std::uint8_t kMinRttWindowUnits = 150;  // 300 s, Linux's tcp_min_rtt_wlen
    std::uint32_t srtt_us_ = 0;
    std::uint32_t rttvar_us_ = 0;
    std::uint8_t backoff_ : 7 = 0;
    bool long_initial_ : 1 = false;
    std::uint8_t min_rtt_taken_ = 0;   // min_rtt_stamp() of the minimum's sample
    std::uint16_t min_rtt_units_ = 0;  // 0: no sample yet
};
static_assert(sizeof(RttEstimator) == 12, "the estimator is in every TCB");

}  // namespace sluice::tcp
