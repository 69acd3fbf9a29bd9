// Logging through rte_log, one dynamic log type per component, so the usual EAL flag selects them:
// `--log-level 'sluice.*:debug'`. Logging is for start-up, shutdown and rare events; the fast path
// counts instead (DESIGN.md rule 4).
#pragma once

#include <rte_log.h>

namespace sluice::log {
extern int driver;
extern int control;
extern int dataplane;
}  // namespace sluice::log

#define SLUICE_LOG(level, component, fmt, ...)                                     \
    rte_log(RTE_LOG_##level, ::sluice::log::component, "sluice.%s: " fmt "\n", \
            #component __VA_OPT__(, ) __VA_ARGS__)
