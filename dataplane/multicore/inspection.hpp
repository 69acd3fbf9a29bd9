// How another thread (the telemetry thread behind `sluicectl` and dpdk-telemetry.py) looks inside
// a running worker without a lock and without reading state the worker is changing.
//
// A worker's TCBs change under every packet, so reading them from another core would show torn
// connections. Instead the inspector posts a request in the worker's mailbox and waits; the worker
// notices it between two turns of its loop (one relaxed load per turn, nothing per packet), copies
// what was asked into the mailbox's preallocated snapshot, and publishes it with a release store.
// The worker never waits for the inspector and allocates nothing.
//
// The mailbox owns the snapshot, so an inspector that gives up waiting (a stopped worker) leaves
// nothing dangling: the request simply stays pending and the next inspector is told so.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include <sluice/connection.hpp>
#include <sluice/tcp_state.hpp>
#include "dataplane/stats/counters.hpp"

namespace sluice {

namespace tcp {
class TcpStack;
class LocalPortPool;
}  // namespace tcp

// A worker as it was at one instant between two loop turns.
struct WorkerSnapshot {
    static constexpr std::size_t kPageSize =
        32;  // connections per request (fits telemetry's 16 KiB)

    WorkerCounters counters;
    std::uint32_t connections = 0;
    std::array<std::uint32_t, tcp::kTcpStateCount> by_state{};
    std::uint32_t listeners = 0;
    std::uint64_t ephemeral_free = 0;  // ports in this worker's pool

    // The page of connections asked for: the ones after `page_offset` in slot order.
    std::uint32_t page_offset = 0;
    std::uint32_t page_count = 0;
    std::array<api::ConnectionInfo, kPageSize> page{};
};

class InspectionMailbox {
  public:
    enum class Outcome { Answered, Busy, TimedOut };

    // Inspector side, any thread: asks for a snapshot, with the connections from `page_offset`
    // on if one is given (listing them walks the worker's flow table, so only when asked), and
    // waits up to `timeout` for the worker. Answered: `out` holds the snapshot. Busy: an earlier
    // request that timed out is still pending.
    Outcome inspect(std::optional<std::uint32_t> page_offset, std::chrono::milliseconds timeout,
                    WorkerSnapshot& out);

    // Worker side, once per loop turn: true when a request waits.
    bool asked() const {
        return requested_.load(std::memory_order_acquire) !=
               answered_.load(std::memory_order_relaxed);
    }
    // Worker side: fills the snapshot from the worker's own state and publishes it.
    void answer(const WorkerCounters& counters, const tcp::TcpStack& tcp,
                const tcp::LocalPortPool* ports);

  private:
    std::mutex inspectors_;  // inspectors take turns; the worker never touches it
    std::atomic<std::uint64_t> requested_{0};
    std::atomic<std::uint64_t> answered_{0};
    std::optional<std::uint32_t> page_offset_;  // written before requested_ is bumped (release)
    WorkerSnapshot snapshot_;  // written by the worker before answered_ is bumped (release)
};

}  // namespace sluice
