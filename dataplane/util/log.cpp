#include "dataplane/util/log.hpp"

namespace sluice::log {
int driver = RTE_LOGTYPE_USER1;
int control = RTE_LOGTYPE_USER1;
int dataplane = RTE_LOGTYPE_USER1;
}  // namespace sluice::log

// Registered before main(), so EAL's --log-level can name them while parsing its arguments.
RTE_INIT(sluice_register_log_types) {
    using namespace sluice::log;
    driver = rte_log_register_type_and_pick_level("sluice.driver", RTE_LOG_INFO);
    control = rte_log_register_type_and_pick_level("sluice.control", RTE_LOG_INFO);
    dataplane = rte_log_register_type_and_pick_level("sluice.dataplane", RTE_LOG_INFO);
}
