// The eleven states of RFC 9293 3.3.2.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::tcp {

enum class TcpState : std::uint8_t {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
};
inline constexpr std::size_t kTcpStateCount = 11;

constexpr std::string_view state_name(TcpState s) {
    constexpr std::string_view names[] = {"CLOSED",      "LISTEN",     "SYN-SENT",   "SYN-RECEIVED",
                                          "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT",
                                          "CLOSING",     "LAST-ACK",   "TIME-WAIT"};
    return names[static_cast<std::size_t>(s)];
}

// States in which the connection is synchronized (RFC 9293 3.5.2's second group).
constexpr bool is_synchronized(TcpState s) {
    return s != TcpState::Closed && s != TcpState::Listen && s != TcpState::SynSent &&
           s != TcpState::SynReceived;
}

}  // namespace sluice::tcp
