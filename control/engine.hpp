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
#include "control/control_plane.hpp"
#include "control/listen_registry.hpp"
#include "control/service_registry.hpp"
#include "control/telemetry.hpp"
#include "dataplane/app/worker_runtime.hpp"
#include "dataplane/flow/rss_model.hpp"
#include "dataplane/services/client_fleet.hpp"
#include "dataplane/timers/clock.hpp"
#include "dataplane/worker.hpp"
#include "drivers/port.hpp"

namespace sluice::control {

// What the program brings to the engine: its services and what runs on each worker at start.
// Must outlive the engine.
struct EngineProgram {
    const ServiceRegistry* services = nullptr;
    std::vector<std::function<void(WorkerContext&)>> start_hooks;
};

class Engine {
  public:
    static Result<std::unique_ptr<Engine>, std::string> start(const EngineOptions& options,
                                                              const EngineProgram& program);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Runs the workers until `stop` is set (by a signal handler, --duration running out, or the
    // client finishing).
    void run(std::atomic<bool>& stop);
    // The process's exit status: what a program's WorkerContext::stop() asked for, else 0, or 1
    // when the engine's client (if any) did not succeed.
    int exit_status() const;

    // One line a counter, "  name value", summed over workers; then the port's link and xstats.
    void report(std::FILE* out) const;
    // "sluice: ready: ..." — the line scripts wait for.
    std::string ready_line() const;

  private:
    Engine() = default;

    Status<std::string> start_services();
    Status<std::string> start_runtimes(const EngineProgram& program);
    // The named service's handler for worker `w`, or a message naming the services there are.
    Result<std::unique_ptr<api::ListenHandler>, std::string> make_service(const std::string& name,
                                                                          std::size_t w) const;
    // At run time (from telemetry): through the listen registry, then on every worker via the
    // control plane's rings. The answer is the port held, or a message for the operator.
    Result<std::uint16_t, std::string> listen_at_runtime(const std::string& service,
                                                         std::uint16_t port);
    Status<std::string> unlisten_at_runtime(std::uint16_t port);
    Status<std::string> carry_out(std::unique_ptr<ListenOrder> order);
    // The control loop's turn: refills, and whether it is time to stop.
    bool control_turn();
    void run_on_lcores(std::atomic<bool>& stop, const std::vector<unsigned>& lcores,
                       bool main_polls);

    EngineOptions options_;
    rte_mempool* pool_ = nullptr;
    std::unique_ptr<drivers::Port> port_;
    TscClock clock_;
    std::unique_ptr<ControlPlane> control_;
    std::unique_ptr<ListenRegistry> listeners_;
    std::optional<flow::RssModel> rss_;  // set when the device's RSS is programmed and known
    std::string steering_report_;
    std::vector<std::unique_ptr<Worker>> workers_;
    // The program's view of each worker, and the rings its messages travel by ([from][to]).
    const ServiceRegistry* services_registry_ = nullptr;
    std::vector<std::unique_ptr<app::WorkerRuntime>> runtimes_;
    std::vector<rte_ring*> message_rings_;
    app::StopRequest stop_request_;
    // Services (one instance per worker: they keep per-connection state by slot) and the client
    // live as long as the engine; each is used only on its worker's thread.
    std::vector<std::unique_ptr<api::ListenHandler>> services_;
    std::chrono::steady_clock::time_point deadline_;
    std::unique_ptr<services::ClientFleet> client_;
    std::unique_ptr<Poller> client_poller_;
    // Listeners added while running, and the orders that installed or removed them. Only the
    // telemetry thread touches these (its commands run one at a time).
    std::vector<std::unique_ptr<api::ListenHandler>> runtime_services_;
    std::vector<std::unique_ptr<ListenOrder>> orders_;
    std::unique_ptr<Telemetry> telemetry_;
};

}  // namespace sluice::control
