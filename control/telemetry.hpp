// The engine's rte_telemetry commands, read by `sluicectl` (control/sluicectl) and by DPDK's own
// dpdk-telemetry.py over the EAL telemetry socket (/var/run/dpdk/<file-prefix>/dpdk_telemetry.v2):
//
//   /sluice/stats [worker]      counters summed over workers (or one worker's), connections by
//   state /sluice/workers             per worker: packets, connections, steering, ephemeral ports
//   /sluice/listeners           the listen registry: endpoint and holder
//   /sluice/ports               the ephemeral port space and which worker holds how much of it
//   /sluice/conns [offset]      connections like `ss -ti`, a page at a time from `offset`
//   /sluice/listen SERVICE:PORT    installs a service on every worker at run time
//   /sluice/unlisten PORT          removes it from every worker; established connections stay
//
// The commands run on EAL's telemetry thread. Worker state is read through each worker's
// InspectionMailbox (a snapshot taken between two loop turns), never by reading a running worker's
// memory; control-plane state through its own locks.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <rte_mempool.h>
#include <rte_telemetry.h>

#include "control/control_plane.hpp"
#include "control/listen_registry.hpp"
#include "dataplane/worker.hpp"

namespace sluice::control {

// What the commands read, all owned by the engine and alive while the Telemetry is.
struct TelemetrySources {
    std::vector<Worker*> workers;
    const ControlPlane* control = nullptr;
    const ListenRegistry* listeners = nullptr;
    rte_mempool* pool = nullptr;
    std::string steering;
    // The services `listen` accepts, by name, with their one-line summaries.
    std::vector<std::pair<std::string, std::string>> services;
    // Runtime listen/unlisten: done by the engine, which owns services; the answer is a port or
    // a message for the operator.
    std::function<Result<std::uint16_t, std::string>(const std::string& service,
                                                     std::uint16_t port)>
        listen;
    std::function<Status<std::string>(std::uint16_t port)> unlisten;
};

class Telemetry {
  public:
    // Registers the commands (once per process) and points them at `sources`.
    static std::unique_ptr<Telemetry> attach(TelemetrySources sources);
    // The commands answer "not running" from now on.
    ~Telemetry();
    Telemetry(const Telemetry&) = delete;
    Telemetry& operator=(const Telemetry&) = delete;

    // One per command; `params` may be null. 0, or a negative errno (the client sees an error).
    int stats(const char* params, rte_tel_data* d) const;
    int workers(rte_tel_data* d) const;
    int listeners(rte_tel_data* d) const;
    int services(rte_tel_data* d) const;
    int ports(rte_tel_data* d) const;
    int connections(const char* params, rte_tel_data* d) const;
    int listen(const char* params, rte_tel_data* d) const;
    int unlisten(const char* params, rte_tel_data* d) const;

    // How long a command waits for a worker to answer.
    static constexpr std::chrono::milliseconds kWorkerTimeout{500};

  private:
    explicit Telemetry(TelemetrySources sources) : sources_(std::move(sources)) {}
    // `offset`: where the page of connections starts; none for counters only.
    bool snapshot(std::size_t worker, std::optional<std::uint32_t> offset,
                  WorkerSnapshot& out) const;

    TelemetrySources sources_;
};

}  // namespace sluice::control
