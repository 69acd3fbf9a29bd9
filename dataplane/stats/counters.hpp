// Per-worker counters. Each worker owns its block and is the only writer, so increments are plain
// adds (no atomics, docs/architecture.md rule 1); readers on other threads (the exit report,
// telemetry) take a racy but tear-free snapshot of aligned 64-bit words, as DPDK's own PMD
// statistics do.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string_view>

#include "dataplane/stats/drop_reason.hpp"

namespace sluice {

#define SLUICE_WORKER_COUNTERS(X)     \
    X(rx_packets)                     \
    X(rx_bytes)                       \
    X(tx_packets)                     \
    X(tx_bytes)                       \
    X(tx_deferred)                    \
    X(arp_requests_received)          \
    X(arp_replies_received)           \
    X(arp_replies_sent)               \
    X(arp_requests_sent)              \
    X(arp_gratuitous_sent)            \
    X(icmp_echo_requests)             \
    X(icmp_echo_replies_sent)         \
    X(ipv4_options_skipped)           \
    X(neighbor_resolved)              \
    X(neighbor_expired)               \
    X(tcp_segments_received)          \
    X(tcp_segments_sent)              \
    X(tcp_segments_sent_by_reference) \
    X(tcp_bytes_received)             \
    X(tcp_bytes_sent)                 \
    X(tcp_retransmitted_segments)     \
    X(tcp_fast_retransmits)           \
    X(tcp_timeouts)                   \
    X(tcp_recoveries)                 \
    X(tcp_recoveries_undone)          \
    X(tcp_spurious_timeouts)          \
    X(tcp_paced_windows)              \
    X(tcp_pacing_releases)            \
    X(tcp_restart_windows)            \
    X(tcp_partial_acks)               \
    X(tcp_limited_transmits)          \
    X(tcp_sack_blocks_received)       \
    X(tcp_sack_blocks_invalid)        \
    X(tcp_dsack_received)             \
    X(tcp_sack_blocks_sent)           \
    X(tcp_dsack_sent)                 \
    X(tcp_lost_retransmissions)       \
    X(tcp_tail_loss_probes)           \
    X(tcp_fin_held_out_of_order)      \
    X(tcp_active_opens)               \
    X(tcp_passive_opens)              \
    X(tcp_established)                \
    X(tcp_closed)                     \
    X(tcp_resets_sent)                \
    X(tcp_resets_received)            \
    X(tcp_challenge_acks)             \
    X(tcp_challenge_acks_suppressed)  \
    X(tcp_delayed_acks)               \
    X(tcp_window_probes)              \
    X(tcp_keepalive_probes)           \
    X(tcp_out_of_order_segments)      \
    X(tcp_connect_failures)           \
    X(tcp_ephemeral_exhausted)        \
    X(ephemeral_blocks_returned)      \
    X(flow_device_hash_mismatches)    \
    X(steered_out)                    \
    X(steered_in)                     \
    X(steering_ring_full)             \
    X(arp_shared_out)

struct alignas(64) WorkerCounters {
#define SLUICE_COUNTER_FIELD(name) std::uint64_t name = 0;
    SLUICE_WORKER_COUNTERS(SLUICE_COUNTER_FIELD)
#undef SLUICE_COUNTER_FIELD
    std::array<std::uint64_t, kDropReasonCount> drops{};

    void drop(DropReason reason, std::uint64_t n = 1) {
        drops[static_cast<std::size_t>(reason)] += n;
    }
    std::uint64_t dropped(DropReason reason) const {
        return drops[static_cast<std::size_t>(reason)];
    }
    std::uint64_t dropped_total() const;

    // Visits every counter by name, drops as "drop.<reason>"; zero values included.
    void for_each(const std::function<void(std::string_view, std::uint64_t)>& visit) const;
    WorkerCounters& operator+=(const WorkerCounters& other);
};

}  // namespace sluice
