// What the link between us and the peer guarantees about TCP checksums, as the operator states
// it (--tcp-checksums; sluice-perf's --sluice-checksums).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice {

// What the link guarantees about TCP checksums, as the operator states it. A wire guarantees
// nothing: Full. A link of shared memory between two processes of one host (net_memif,
// net_ring) cannot corrupt a frame between its ends; over such links Linux neither sums nor
// checks TCP payloads either (loopback marks what it receives CHECKSUM_UNNECESSARY, veth passes
// CHECKSUM_PARTIAL through). IPv4 header checksums are always summed and checked, as Linux does:
// 20 bytes cost next to nothing.
enum class TcpChecksums : std::uint8_t {
    Full,           // summed on every segment sent, checked on every segment received
    TrustReceived,  // summed on every segment sent; received segments are not checked
    Off,            // neither; the field is sent as 0, so the peer must trust the link too
};

inline constexpr std::string_view tcp_checksums_name(TcpChecksums c) {
    switch (c) {
        case TcpChecksums::Full:
            return "full";
        case TcpChecksums::TrustReceived:
            return "trust-received";
        case TcpChecksums::Off:
            return "off";
    }
    return "full";
}

// "full", "trust-received" or "off"; nothing for anything else.
inline std::optional<TcpChecksums> parse_tcp_checksums(std::string_view text) {
    for (const TcpChecksums c :
         {TcpChecksums::Full, TcpChecksums::TrustReceived, TcpChecksums::Off}) {
        if (text == tcp_checksums_name(c))
            return c;
    }
    return std::nullopt;
}

}  // namespace sluice
