// The services every program on Sluice offers unless it says otherwise: echo, discard, source
// and http (dataplane/services/), registered like any program's own.
#pragma once

#include "control/config/options.hpp"
#include "control/service_registry.hpp"

namespace sluice::control {

// `options` is read when a factory runs (after parsing), so it must outlive the registry.
void register_builtin_services(ServiceRegistry& registry, const EngineOptions& options);

}  // namespace sluice::control
