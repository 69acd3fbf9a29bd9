#include "dataplane/tcp/congestion/cubic.hpp"

#include <algorithm>
#include <cmath>

#include "dataplane/tcp/congestion/controller.hpp"

namespace sluice::tcp::congestion::cubic {

double window(double t_seconds, double k_seconds, double w_max_segments) {
    const double d = t_seconds - k_seconds;
    return kC * d * d * d + w_max_segments;
}

double k(double w_max_segments, double cwnd_epoch_segments) {
    // Below W_max the curve starts concave and reaches W_max at K; at or above it (a window that
    // grew past the last congestion point, or no congestion yet) K is 0 and growth is convex.
    if (cwnd_epoch_segments >= w_max_segments)
        return 0.0;
    return std::cbrt((w_max_segments - cwnd_epoch_segments) / kC);
}

void on_ack(Controller& c, std::uint32_t bytes_acked, std::uint32_t mss, Nanos now, Nanos srtt) {
    if (mss == 0 || c.cwnd == 0)
        return;
    const double m = mss;
    const double cwnd = c.cwnd;
    if (c.w_est == 0) {
        // 4.2: a new epoch starts with the first ACK in congestion avoidance. Without a congestion
        // event yet, W_max is the window now (4.2, "no congestion event").
        c.epoch_start = Stamp32<std::chrono::milliseconds>::at(now);
        if (c.w_max < c.cwnd)
            c.w_max = c.cwnd;
        c.w_est = c.cwnd;
        c.k_ms = static_cast<std::uint16_t>(std::min(k(c.w_max / m, cwnd / m) * 1e3, 65535.0));
    }
    // 4.3: the Reno-friendly estimate grows by alpha_cubic segments per window acknowledged, and
    // by one once it has passed the window of the last congestion event.
    const double alpha = c.w_est >= c.w_max ? 1.0 : kAlpha;
    c.w_est = static_cast<std::uint32_t>(std::min(c.w_est + alpha * bytes_acked * m / cwnd, 4e9));

    const double t = std::chrono::duration<double>(c.epoch_start.age(now)).count();
    const double k_s = c.k_ms / 1e3;
    const double w_max_segments = c.w_max / m;
    double next = cwnd;
    if (window(t, k_s, w_max_segments) * m < c.w_est) {
        // 4.4: the Reno-friendly region.
        next = std::max<double>(cwnd, c.w_est);
    } else {
        // 4.4 and 4.5: aim at W_cubic one RTT ahead, at most 1.5 cwnd, and grow towards it by
        // (target - cwnd) / cwnd per segment acknowledged.
        const double rtt = std::chrono::duration<double>(srtt).count();
        const double target =
            std::clamp(window(t + rtt, k_s, w_max_segments) * m, cwnd, 1.5 * cwnd);
        next = cwnd + (target - cwnd) * bytes_acked / cwnd;
    }
    c.cwnd = static_cast<std::uint32_t>(std::clamp(next, cwnd, 4e9));
}

void on_congestion(Controller& c, std::uint32_t cwnd, std::uint32_t mss) {
    // 4.7: fast convergence: a window that did not reach the last W_max releases bandwidth to
    // newer flows by remembering a lower one.
    if (c.w_max != 0 && cwnd < c.w_max) {
        c.w_max = static_cast<std::uint32_t>(cwnd * (1.0 + kBeta) / 2.0);
    } else {
        c.w_max = cwnd;
    }
    // 4.6: ssthresh = cwnd * beta_cubic, never below two segments (RFC 5681 eq. 4's floor).
    // In integers, as 7/10, so that a window of whole segments keeps whole segments.
    c.ssthresh = std::max(static_cast<std::uint32_t>(std::uint64_t{cwnd} * 7 / 10), 2U * mss);
    c.w_est = 0;  // the next epoch starts when avoidance resumes
}

}  // namespace sluice::tcp::congestion::cubic
