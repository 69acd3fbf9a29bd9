#include "dataplane/timers/clock.hpp"

#include <rte_cycles.h>

namespace sluice {

namespace {
std::int64_t steady_nanos() {
    return std::chrono::duration_cast<Nanos>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
}  // namespace

// Before rte_eal_init() the TSC rate is unknown (0): a clock built then would stand still, and
// with it every timer, timestamp and ISN clock. It falls back to the kernel's monotonic clock.
TscClock::TscClock()
    : start_cycles_(rte_get_tsc_cycles()),
      nanos_per_cycle_(rte_get_tsc_hz() != 0 ? 1e9 / static_cast<double>(rte_get_tsc_hz()) : 0.0),
      start_steady_(nanos_per_cycle_ == 0.0 ? steady_nanos() : 0) {}

Nanos TscClock::now() const {
    if (nanos_per_cycle_ == 0.0)
        return Nanos{steady_nanos() - start_steady_};
    const std::uint64_t elapsed = rte_get_tsc_cycles() - start_cycles_;
    return Nanos{static_cast<std::int64_t>(static_cast<double>(elapsed) * nanos_per_cycle_)};
}

}  // namespace sluice
