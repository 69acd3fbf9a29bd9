// The engine's start-up order and lifetime: packet pool, port, workers, announcement; then run
// until asked to stop, and report. Owns everything it starts and releases it in reverse order.
#pragma once

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <rte_mempool.h>

#include "control/config/options.hpp"
#include "dataplane/services/http_service.hpp"
#include "dataplane/services/pattern_client.hpp"
#include "dataplane/services/simple_services.hpp"
#include "dataplane/timers/clock.hpp"
#include "dataplane/worker.hpp"
#include "drivers/port.hpp"

namespace sluice::control {

class Engine {
public:
    static Result<std::unique_ptr<Engine>, std::string> start(const EngineOptions& options);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Runs the workers until `stop` is set (by a signal handler, --duration running out, or the
    // client finishing).
    void run(std::atomic<bool>& stop);
    // The process's exit status: 0, or 1 when the client (if any) did not succeed.
    int exit_status() const;

    // One line a counter, "  name value", summed over workers; then the port's link and xstats.
    void report(std::FILE* out) const;
    // "sluice: ready: ..." — the line scripts wait for.
    std::string ready_line() const;

private:
    Engine() = default;

    EngineOptions options_;
    rte_mempool* pool_ = nullptr;
    std::unique_ptr<drivers::Port> port_;
    TscClock clock_;
    std::vector<std::unique_ptr<Worker>> workers_;
    // Services and the client live as long as the engine; they are used on worker 0's thread only.
    std::vector<std::unique_ptr<api::ListenHandler>> services_;
    std::unique_ptr<services::PatternClient> client_;
};

}  // namespace sluice::control
