// NewReno's window rules (RFC 5681 3.1 and 3.2; the recovery itself, RFC 6582, is the sender's:
// loss_recovery.cpp): congestion avoidance adds about one segment per round trip, and a loss
// halves the data in flight.
#pragma once

#include <algorithm>
#include <cstdint>

namespace sluice::tcp::congestion::new_reno {

// RFC 5681 3.1 eq. 3 in bytes acknowledged (RFC 3465 2.1): SMSS * bytes_acked / cwnd, at least a
// byte, saturating rather than wrapping.
inline void on_ack(std::uint32_t& cwnd, std::uint32_t bytes_acked, std::uint32_t mss) {
    if (cwnd == 0)
        return;
    const std::uint64_t share = std::uint64_t{mss} * bytes_acked / cwnd;
    cwnd = static_cast<std::uint32_t>(std::min<std::uint64_t>(
        std::uint64_t{cwnd} + std::max<std::uint64_t>(1, share), UINT32_MAX));
}

// RFC 5681 3.1 eq. 4: ssthresh = max(FlightSize / 2, 2 * SMSS).
inline std::uint32_t ssthresh_after_loss(std::uint32_t flight_size, std::uint32_t mss) {
    return std::max(flight_size / 2, 2U * mss);
}

}  // namespace sluice::tcp::congestion::new_reno
