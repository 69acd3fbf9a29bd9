// The retransmission timer's estimator, RFC 6298 2: SRTT and RTTVAR from samples (taken only from
// segments never retransmitted, Karn's rule, or from timestamps, RFC 7323 4), RTO with exponential
// backoff.
#pragma once

#include <algorithm>
#include <cstdint>

#include "dataplane/timers/clock.hpp"

namespace sluice::tcp {

class RttEstimator {
public:
    RttEstimator() = default;
    RttEstimator(Nanos initial_rto, Nanos min_rto, Nanos max_rto)
        : rto_us_(us(initial_rto)), min_us_(us(min_rto)), max_us_(us(max_rto)) {}

    void sample(Nanos rtt) {
        const std::int64_t r = std::max<std::int64_t>(us(rtt), 1);
        if (srtt_us_ == 0) {
            srtt_us_ = r;  // 2.2
            rttvar_us_ = r / 2;
        } else {
            // 2.3, alpha = 1/8, beta = 1/4
            const std::int64_t delta = srtt_us_ > r ? srtt_us_ - r : r - srtt_us_;
            rttvar_us_ = (3 * rttvar_us_ + delta) / 4;
            srtt_us_ = (7 * srtt_us_ + r) / 8;
        }
        // G, the clock granularity, is 1 ms (the timer wheel's tick).
        rto_us_ = std::clamp<std::int64_t>(srtt_us_ + std::max<std::int64_t>(1000, 4 * rttvar_us_),
                                           min_us_, max_us_);
        backoff_ = 0;
    }
    // 5.5: double the timer on each expiry, up to the maximum.
    void back_off() {
        if (backoff_ < 16) ++backoff_;
    }
    void reset_backoff() { backoff_ = 0; }

    Nanos rto() const {
        const std::int64_t r = std::min<std::int64_t>(rto_us_ << backoff_, max_us_);
        return std::chrono::microseconds(r);
    }
    Nanos srtt() const { return std::chrono::microseconds(srtt_us_); }
    Nanos rttvar() const { return std::chrono::microseconds(rttvar_us_); }
    bool has_sample() const { return srtt_us_ != 0; }
    std::uint8_t backoff() const { return backoff_; }

private:
    static std::int64_t us(Nanos n) { return std::chrono::duration_cast<std::chrono::microseconds>(n).count(); }

    std::int64_t srtt_us_ = 0;
    std::int64_t rttvar_us_ = 0;
    std::int64_t rto_us_ = 1'000'000;
    std::int64_t min_us_ = 200'000;
    std::int64_t max_us_ = 60'000'000;
    std::uint8_t backoff_ = 0;
};

}  // namespace sluice::tcp
