#include "dataplane/stats/counters.hpp"

#include <string>

namespace sluice {

std::uint64_t WorkerCounters::dropped_total() const {
    std::uint64_t total = 0;
    for (const std::uint64_t n : drops)
        total += n;
    return total;
}

void WorkerCounters::for_each(
    const std::function<void(std::string_view, std::uint64_t)>& visit) const {
#define SLUICE_COUNTER_VISIT(name) visit(#name, name);
    SLUICE_WORKER_COUNTERS(SLUICE_COUNTER_VISIT)
#undef SLUICE_COUNTER_VISIT
    for (std::size_t i = 0; i < kDropReasonCount; ++i) {
        const std::string key = "drop." + std::string(drop_reason_name(static_cast<DropReason>(i)));
        visit(key, drops[i]);
    }
}

WorkerCounters& WorkerCounters::operator+=(const WorkerCounters& other) {
#define SLUICE_COUNTER_ADD(name) name += other.name;
    SLUICE_WORKER_COUNTERS(SLUICE_COUNTER_ADD)
#undef SLUICE_COUNTER_ADD
    for (std::size_t i = 0; i < kDropReasonCount; ++i)
        drops[i] += other.drops[i];
    return *this;
}

}  // namespace sluice
