#include "dataplane/multicore/inspection.hpp"

#include <thread>

#include "dataplane/tcp/local_port_pool.hpp"
#include "dataplane/tcp/tcp_stack.hpp"

namespace sluice {

InspectionMailbox::Outcome InspectionMailbox::inspect(std::optional<std::uint32_t> page_offset,
                                                      std::chrono::milliseconds timeout,
                                                      WorkerSnapshot& out) {
    const std::lock_guard hold(inspectors_);
    const std::uint64_t pending = requested_.load(std::memory_order_relaxed);
    if (answered_.load(std::memory_order_acquire) != pending)
        return Outcome::Busy;
    page_offset_ = page_offset;
    requested_.store(pending + 1, std::memory_order_release);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    // The worker answers within a loop turn (microseconds); sleeping keeps this thread off a core
    // the workers may need.
    while (answered_.load(std::memory_order_acquire) != pending + 1) {
        if (std::chrono::steady_clock::now() >= deadline)
            return Outcome::TimedOut;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    out = snapshot_;
    return Outcome::Answered;
}

void InspectionMailbox::answer(const WorkerCounters& counters, const tcp::TcpStack& tcp,
                               const tcp::LocalPortPool* ports) {
    const std::uint64_t request = requested_.load(std::memory_order_acquire);
    WorkerSnapshot& s = snapshot_;
    s.counters = counters;
    s.connections = tcp.connection_count();
    for (std::size_t i = 0; i < tcp::kTcpStateCount; ++i)
        s.by_state[i] = tcp.connections_in(static_cast<tcp::TcpState>(i));
    s.listeners = tcp.listener_count();
    s.ephemeral_free = ports != nullptr ? ports->free_count() : 0;
    s.page_offset = page_offset_.value_or(0);
    s.page_count =
        page_offset_ ? static_cast<std::uint32_t>(tcp.connections_page(*page_offset_, s.page)) : 0;
    answered_.store(request, std::memory_order_release);
}

}  // namespace sluice
