#include "control/engine.hpp"

#include <chrono>
#include <cstring>
#include <thread>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "dataplane/util/log.hpp"

namespace sluice::control {

Result<std::unique_ptr<Engine>, std::string> Engine::start(const EngineOptions& options) {
    std::unique_ptr<Engine> engine(new Engine());
    engine->options_ = options;

    engine->pool_ = rte_pktmbuf_pool_create("sluice_mbufs", options.mbufs, 256, 0,
                                            RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
    if (engine->pool_ == nullptr) {
        return Unexpected{"cannot create a pool of " + std::to_string(options.mbufs) +
                          " packet buffers: " + rte_strerror(rte_errno) +
                          " (lower --mbufs or give EAL more memory with -m)"};
    }

    drivers::PortConfig port_config;
    port_config.device = options.port;
    port_config.mtu = options.mtu;
    port_config.offloads.checksums = options.offloads;
    auto port = drivers::Port::open(port_config, engine->pool_);
    if (!port) return Unexpected{port.error()};
    engine->port_ = std::move(port.value());

    WorkerConfig wc;
    wc.id = 0;
    wc.port_id = engine->port_->id();
    wc.queue_id = 0;
    wc.interface.mac = engine->port_->mac();
    wc.interface.address = options.address;
    wc.interface.gateway = options.gateway;
    wc.interface.vlan_id = options.vlan_id;
    wc.neighbors.capacity = options.neighbor_capacity;
    wc.neighbors.reachable_time = options.neighbor_timeout;
    wc.offloads.rx_ipv4 = engine->port_->offloads().rx_ipv4_checksum();
    wc.offloads.tx_ipv4 = engine->port_->offloads().tx_ipv4_checksum();
    wc.offloads.rx_tcp = engine->port_->offloads().rx_tcp_checksum();
    wc.offloads.tx_tcp = engine->port_->offloads().tx_tcp_checksum();
    wc.mtu = engine->port_->mtu();
    wc.tcp.max_connections = options.max_connections;
    wc.tcp.msl = options.msl;
    wc.tcp.nagle = !options.nodelay;
    wc.tcp.keepalive = options.keepalive;
    wc.tcp.send_buffer = options.send_buffer;
    wc.tcp.receive_buffer = options.receive_buffer;
    wc.tcp.initial_rto = options.initial_rto;
    auto worker = Worker::create(wc, engine->pool_, engine->clock_);
    if (!worker) return Unexpected{worker.error()};
    engine->workers_.push_back(std::move(worker.value()));

    // Services and the client start before the worker runs, so no other thread touches its stack.
    tcp::TcpStack& tcp = engine->workers_.front()->tcp();
    for (const ServiceOption& s : options.services) {
        std::unique_ptr<api::ListenHandler> service;
        switch (s.kind) {
            case ServiceKind::Echo:
                service = std::make_unique<services::EchoService>(tcp.slot_count());
                break;
            case ServiceKind::Discard:
                service = std::make_unique<services::DiscardService>();
                break;
            case ServiceKind::Source:
                service = std::make_unique<services::SourceService>(options.source_bytes);
                break;
            case ServiceKind::Http:
                service = std::make_unique<services::HttpService>(options.http_body, tcp.slot_count());
                break;
        }
        if (auto st = tcp.listen(s.port, service.get()); !st) {
            return Unexpected{"--serve port " + std::to_string(s.port) + ": " + std::strerror(st.error())};
        }
        engine->services_.push_back(std::move(service));
    }
    if (options.connect_ip) {
        engine->client_ = std::make_unique<services::PatternClient>(options.client_bytes);
        if (auto st = engine->client_->start(tcp, *options.connect_ip, options.connect_port); !st) {
            return Unexpected{"--connect: " + std::string(std::strerror(st.error()))};
        }
    }
    return engine;
}

Engine::~Engine() {
    workers_.clear();
    port_.reset();
    rte_mempool_free(pool_);
}

namespace {

struct LaunchArgs {
    Worker* worker;
    std::atomic<bool>* stop;
};

int worker_main(void* arg) {
    auto* args = static_cast<LaunchArgs*>(arg);
    args->worker->run(*args->stop);
    return 0;
}

}  // namespace

void Engine::run(std::atomic<bool>& stop) {
    Worker& worker = *workers_.front();
    worker.net().announce();

    // The worker gets a core of its own when EAL was given one (-l 0,1); otherwise it shares the
    // main core with the control loop below, which then has nothing to do but the worker's.
    const unsigned worker_lcore = rte_get_next_lcore(-1, /*skip_main=*/1, /*wrap=*/0);
    const auto deadline = std::chrono::steady_clock::now() + options_.duration;
    const auto duration_over = [&] {
        if (client_ != nullptr && client_->finished()) return true;
        return options_.duration.count() > 0 && std::chrono::steady_clock::now() >= deadline;
    };
    if (worker_lcore < RTE_MAX_LCORE) {
        LaunchArgs args{&worker, &stop};
        rte_eal_remote_launch(worker_main, &args, worker_lcore);
        SLUICE_LOG(INFO, control, "worker 0 polling on lcore %u", worker_lcore);
        while (!stop.load()) {
            if (duration_over()) stop.store(true);
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        rte_eal_wait_lcore(worker_lcore);
    } else {
        SLUICE_LOG(INFO, control, "worker 0 polling on the main lcore %u", rte_lcore_id());
        std::uint32_t turns = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            worker.poll_once();
            if ((++turns & 0x3ff) == 0 && duration_over()) stop.store(true);
        }
    }
}

int Engine::exit_status() const {
    if (client_ == nullptr) return 0;
    return client_->succeeded() ? 0 : 1;
}

std::string Engine::ready_line() const {
    return "sluice: ready: " + options_.address.to_string() + " on port " +
           std::to_string(port_->id()) + " (" + port_->name() + ", " + port_->driver() +
           ", mac " + port_->mac().to_string() + ", link " + port_->link().text + ")";
}

void Engine::report(std::FILE* out) const {
    WorkerCounters total;
    for (const auto& w : workers_) total += w->counters();
    std::fprintf(out, "sluice: counters\n");
    total.for_each([&](std::string_view name, std::uint64_t value) {
        // Drop reasons that never happened are noise in a report; plain counters always show.
        if (value == 0 && name.rfind("drop.", 0) == 0) return;
        std::fprintf(out, "  %-36.*s %llu\n", static_cast<int>(name.size()), name.data(),
                     static_cast<unsigned long long>(value));
    });
    std::fprintf(out, "  %-36s %llu\n", "drop.total",
                 static_cast<unsigned long long>(total.dropped_total()));
    std::fprintf(out, "  %-36s %llu\n", "neighbor_entries",
                 static_cast<unsigned long long>(workers_.front()->net().neighbors().size()));
    // Buffers the pool has handed out and not got back: the rx rings' own plus anything held.
    std::fprintf(out, "  %-36s %u\n", "mbufs_in_use", rte_mempool_in_use_count(pool_));
    tcp::TcpStack& tcp = workers_.front()->tcp();
    std::fprintf(out, "  %-36s %u\n", "tcp_connections", tcp.connection_count());
    for (std::size_t s = 0; s < tcp::kTcpStateCount; ++s) {
        const auto state = static_cast<tcp::TcpState>(s);
        if (tcp.connections_in(state) == 0) continue;
        std::fprintf(out, "  tcp_state.%-26.*s %u\n", static_cast<int>(tcp::state_name(state).size()),
                     tcp::state_name(state).data(), tcp.connections_in(state));
    }
    if (client_ != nullptr) std::fprintf(out, "sluice: %s\n", client_->summary().c_str());
    std::fprintf(out, "sluice: port %u (%s) xstats\n", port_->id(), port_->name().c_str());
    for (const auto& [name, value] : port_->xstats()) {
        if (value != 0) {
            std::fprintf(out, "  port.%-31s %llu\n", name.c_str(),
                         static_cast<unsigned long long>(value));
        }
    }
    std::fflush(out);
}

}  // namespace sluice::control
