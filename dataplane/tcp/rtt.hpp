// The retransmission timer's estimator, RFC 6298 2: SRTT and RTTVAR from samples (taken only from
// segments never retransmitted, Karn's rule, or from timestamps, RFC 7323 4), RTO with exponential
// backoff.
//
// Every connection has one, so it is kept small (16 bytes): microseconds in 32 bits (71 minutes,
// far beyond the 60-second RTO ceiling), and the configured bounds live once in RtoBounds instead
// of in every connection.
#pragma once

#include <algorithm>
#include <cstdint>

#include "dataplane/timers/clock.hpp"

namespace sluice::tcp {

// The RTO's floor and ceiling (RFC 6298 2.4 and 2.5), one per stack.
struct RtoBounds {
    std::uint32_t min_us = 200'000;
    std::uint32_t max_us = 60'000'000;

    static RtoBounds from(Nanos min_rto, Nanos max_rto) {
        return RtoBounds{to_us(min_rto), std::max(to_us(min_rto), to_us(max_rto))};
    }
    static std::uint32_t to_us(Nanos n) {
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(n).count();
        return static_cast<std::uint32_t>(std::clamp<std::int64_t>(us, 1, UINT32_MAX));
    }
};

class RttEstimator {
  public:
    RttEstimator() = default;
    explicit RttEstimator(Nanos initial_rto) : rto_us_(RtoBounds::to_us(initial_rto)) {}

    void sample(Nanos rtt, const RtoBounds& bounds) {
        const std::int64_t r = RtoBounds::to_us(rtt);
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
        // G, the clock granularity, is 1 ms (the timer wheel's tick).
        const std::int64_t rto =
            std::int64_t{srtt_us_} + std::max<std::int64_t>(1000, 4 * std::int64_t{rttvar_us_});
        rto_us_ =
            static_cast<std::uint32_t>(std::clamp<std::int64_t>(rto, bounds.min_us, bounds.max_us));
        backoff_ = 0;
    }
    // 5.5: double the timer on each expiry, up to the maximum.
    void back_off() {
        if (backoff_ < 16)
            ++backoff_;
    }
    void reset_backoff() { backoff_ = 0; }

    Nanos rto(const RtoBounds& bounds) const {
        const std::uint64_t r =
            std::min<std::uint64_t>(std::uint64_t{rto_us_} << backoff_, bounds.max_us);
        return std::chrono::microseconds(r);
    }
    Nanos srtt() const { return std::chrono::microseconds(srtt_us_); }
    Nanos rttvar() const { return std::chrono::microseconds(rttvar_us_); }
    bool has_sample() const { return srtt_us_ != 0; }
    std::uint8_t backoff() const { return backoff_; }

  private:
    std::uint32_t srtt_us_ = 0;
    std::uint32_t rttvar_us_ = 0;
    std::uint32_t rto_us_ = 1'000'000;
    std::uint8_t backoff_ = 0;
};

}  // namespace sluice::tcp
