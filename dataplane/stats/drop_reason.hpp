// Every packet the data path drops is counted under one of these reasons, never printed
// (docs/architecture.md rule 4). Names are stable: they appear in counters, telemetry and tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice {

#define SLUICE_DROP_REASONS(X)                                 \
    X(EthernetTruncated, "eth_truncated")                      \
    X(EthernetNotForUs, "eth_not_for_us")                      \
    X(VlanMismatch, "vlan_mismatch")                           \
    X(UnsupportedEthertype, "unsupported_ethertype")           \
    X(ArpTruncated, "arp_truncated")                           \
    X(ArpUnsupportedFormat, "arp_unsupported_format")          \
    X(ArpUnsupportedOperation, "arp_unsupported_operation")    \
    X(ArpBadSender, "arp_bad_sender")                          \
    X(ArpNotForUs, "arp_not_for_us")                           \
    X(Ipv4Truncated, "ipv4_truncated")                         \
    X(Ipv4BadVersion, "ipv4_bad_version")                      \
    X(Ipv4BadHeaderLength, "ipv4_bad_header_length")           \
    X(Ipv4BadTotalLength, "ipv4_bad_total_length")             \
    X(Ipv4BadChecksum, "ipv4_bad_checksum")                    \
    X(Ipv4TtlExpired, "ipv4_ttl_expired")                      \
    X(Ipv4BadSource, "ipv4_bad_source")                        \
    X(Ipv4NotForUs, "ipv4_not_for_us")                         \
    X(Ipv4Fragment, "ipv4_fragment")                           \
    X(Ipv4UnsupportedProtocol, "ipv4_unsupported_protocol")    \
    X(IcmpTruncated, "icmp_truncated")                         \
    X(IcmpBadChecksum, "icmp_bad_checksum")                    \
    X(IcmpUnsupportedType, "icmp_unsupported_type")            \
    X(IcmpEchoToBroadcast, "icmp_echo_to_broadcast")           \
    X(TcpTruncated, "tcp_truncated")                           \
    X(TcpBadHeaderLength, "tcp_bad_header_length")             \
    X(TcpBadChecksum, "tcp_bad_checksum")                      \
    X(TcpBadFlags, "tcp_bad_flags")                            \
    X(TcpBadPort, "tcp_bad_port")                              \
    X(TcpBadOption, "tcp_bad_option")                          \
    X(TcpToBroadcast, "tcp_to_broadcast")                      \
    X(TcpNoConnection, "tcp_no_connection")                    \
    X(TcpNotAcceptable, "tcp_not_acceptable")                  \
    X(TcpPaws, "tcp_paws")                                     \
    X(TcpBadAck, "tcp_bad_ack")                                \
    X(TcpUnexpected, "tcp_unexpected")                         \
    X(TcpListenOverflow, "tcp_listen_overflow")                \
    X(TcpTableFull, "tcp_table_full")                          \
    X(TcpOutOfOrderFull, "tcp_out_of_order_full")              \
    X(TcpOutOfOrderWorkerFull, "tcp_out_of_order_worker_full") \
    X(TcpAfterClose, "tcp_after_close")                        \
    X(NoRoute, "no_route")                                     \
    X(NeighborQueueFull, "neighbor_queue_full")                \
    X(NeighborTableFull, "neighbor_table_full")                \
    X(NeighborUnresolved, "neighbor_unresolved")               \
    X(SegmentedFrame, "segmented_frame")                       \
    X(MbufExhausted, "mbuf_exhausted")                         \
    X(NoHeadroom, "no_headroom")                               \
    X(TxRingFull, "tx_ring_full")

enum class DropReason : std::uint8_t {
#define SLUICE_DROP_ENUM(name, text) name,
    SLUICE_DROP_REASONS(SLUICE_DROP_ENUM)
#undef SLUICE_DROP_ENUM
};

inline constexpr std::size_t kDropReasonCount = 0
#define SLUICE_DROP_COUNT(name, text) +1
    SLUICE_DROP_REASONS(SLUICE_DROP_COUNT)
#undef SLUICE_DROP_COUNT
    ;

constexpr std::string_view drop_reason_name(DropReason r) {
    switch (r) {
#define SLUICE_DROP_NAME(name, text) \
    case DropReason::name:           \
        return text;
        SLUICE_DROP_REASONS(SLUICE_DROP_NAME)
#undef SLUICE_DROP_NAME
    }
    return "unknown";
}

}  // namespace sluice
