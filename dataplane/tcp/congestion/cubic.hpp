// CUBIC (RFC 9438): the window grows as a cubic function of the time since the last congestion
// event, centred on the window where that event happened (W_max), with a Reno-friendly estimate
// (W_est, 4.3) as its floor. The default algorithm, as on Linux.
#pragma once

#include <cstdint>

#include "dataplane/timers/clock.hpp"

namespace sluice::tcp::congestion {

// CUBIC's state is four fields of the connection's Controller (controller.hpp): w_max, w_est,
// epoch_start and k_ms, kept there so that the whole controller fits in 24 bytes of the TCB.
struct Controller;

namespace cubic {

inline constexpr double kC = 0.4;     // 5: C
inline constexpr double kBeta = 0.7;  // 4.6: beta_cubic (7/10 in on_congestion)
// 4.3: alpha_cubic = 3 (1 - beta) / (1 + beta)
inline constexpr double kAlpha = 3.0 * (1.0 - kBeta) / (1.0 + kBeta);

// 4.2 eq. 1: W_cubic(t) in segments, for t seconds since the epoch began.
double window(double t_seconds, double k_seconds, double w_max_segments);
// 4.2 eq. 2: K in seconds, from W_max and the window at the start of the epoch (cwnd_epoch).
double k(double w_max_segments, double cwnd_epoch_segments);

// Congestion avoidance on an ACK of `bytes_acked`.
void on_ack(Controller& c, std::uint32_t bytes_acked, std::uint32_t mss, Nanos now, Nanos srtt);
// 4.6 and 4.7 (fast convergence): W_max and ssthresh on a congestion event, from `cwnd`.
void on_congestion(Controller& c, std::uint32_t cwnd, std::uint32_t mss);

}  // namespace cubic

}  // namespace sluice::tcp::congestion
