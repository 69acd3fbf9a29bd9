#include "control/builtin_services.hpp"

#include <memory>

#include "dataplane/services/http_service.hpp"
#include "dataplane/services/simple_services.hpp"

namespace sluice::control {

void register_builtin_services(ServiceRegistry& registry, const EngineOptions& options) {
    const EngineOptions* o = &options;
    // The names are fresh and well formed, so none of these can be refused.
    (void)registry.add("echo", "sends back what it receives (RFC 862)", [](WorkerContext& w) {
        return std::make_unique<services::EchoService>(w.connection_slots());
    });
    (void)registry.add("discard", "reads and drops what it receives (RFC 863)",
                       [](WorkerContext&) { return std::make_unique<services::DiscardService>(); });
    (void)registry.add(
        "source", "sends --source-bytes of the test pattern, then closes",
        [o](WorkerContext&) { return std::make_unique<services::SourceService>(o->source_bytes); });
    (void)registry.add(
        "http", "answers GET/HEAD with --http-body bytes, or N bytes for the path /bytes/N",
        [o](WorkerContext& w) {
            return std::make_unique<services::HttpService>(o->http_body, w.connection_slots());
        });
}

}  // namespace sluice::control
