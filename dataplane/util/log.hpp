// Logging through rte_log, one dynamic log type per component, so the usual EAL flag selects them:
// `--log-level 'sluice.*:debug'`. Logging is for start-up, shutdown and rare events; the fast path
// counts instead (docs/architecture.md rule 4).
#pragma once

#include <rte_log.h>

namespace sluice::log {
extern int driver;
extern int control;
extern int dataplane;
}  // namespace sluice::log

// The level is checked before the arguments are evaluated: a debug line on a per-connection path
// (state changes) must cost nothing when debug is off. Without the check, building the unprinted
// line took about a third of a connect-request-response-close server's time (bench/perf crr).
#define SLUICE_LOG(level, component, fmt, ...)                                         \
    do {                                                                               \
        if (rte_log_can_log(::sluice::log::component, RTE_LOG_##level)) {              \
            rte_log(RTE_LOG_##level, ::sluice::log::component, "sluice.%s: " fmt "\n", \
                    #component __VA_OPT__(, ) __VA_ARGS__);                            \
        }                                                                              \
    } while (0)
