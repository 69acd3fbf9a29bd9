#include "dataplane/timers/clock.hpp"

#include <rte_cycles.h>

namespace sluice {

TscClock::TscClock()
    : start_cycles_(rte_get_tsc_cycles()),
      nanos_per_cycle_(1e9 / static_cast<double>(rte_get_tsc_hz())) {}

Nanos TscClock::now() const {
    const std::uint64_t elapsed = rte_get_tsc_cycles() - start_cycles_;
    return Nanos{static_cast<std::int64_t>(static_cast<double>(elapsed) * nanos_per_cycle_)};
}

}  // namespace sluice
