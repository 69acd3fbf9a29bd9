#include "control/engine.hpp"

#include <chrono>
#include <cstring>
#include <thread>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "dataplane/util/log.hpp"
#include "drivers/rss.hpp"

namespace sluice::control {

namespace {
// Ephemeral port blocks each worker starts with (EphemeralPortAllocator::kBlockSize ports each).
constexpr std::size_t kInitialBlocks = 4;
}  // namespace

Result<std::unique_ptr<Engine>, std::string> Engine::start(const EngineOptions& options,
                                                           const EngineProgram& program) {
    if (program.services == nullptr)
        return Unexpected{std::string("the engine was started without a service registry")};
    std::unique_ptr<Engine> engine(new Engine());
    engine->options_ = options;
    engine->services_registry_ = program.services;

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
    port_config.rx_queues = static_cast<std::uint16_t>(options.workers);
    port_config.tx_queues = static_cast<std::uint16_t>(options.workers);
    if (options.workers > rte_lcore_count()) {
        return Unexpected{"--workers " + std::to_string(options.workers) +
                          " needs as many lcores; " + "EAL's -l gave " +
                          std::to_string(rte_lcore_count()) + " (e.g. -l 0-" +
                          std::to_string(options.workers - 1) + ")"};
    }
    auto port = drivers::Port::open(port_config, engine->pool_);
    if (!port)
        return Unexpected{port.error()};
    engine->port_ = std::move(port.value());

    // One rx/tx queue pair per worker; the control plane and the rings between everyone.
    const auto workers = static_cast<std::uint16_t>(options.workers);
    std::vector<wire::Ipv4Address> local_addresses{options.address.address};
    for (const auto& a : options.local_addresses)
        local_addresses.push_back(a);
    auto control = ControlPlane::create(workers, local_addresses, options.ephemeral_ports.low,
                                        options.ephemeral_ports.high);
    if (!control)
        return Unexpected{control.error()};
    engine->control_ = std::move(control.value());
    engine->listeners_ = std::make_unique<ListenRegistry>(
        options.ephemeral_ports.low, options.ephemeral_ports.high, /*allow_privileged=*/true);
    engine->control_->set_listen_registry(engine->listeners_.get());

    if (workers > 1 && options.steering != Steering::Software) {
        auto rss = drivers::program_rss(engine->port_->id(), flow::RssModel::symmetric_key(),
                                        workers, engine->port_->offloads().rss_hash_functions);
        if (rss) {
            engine->rss_ = std::move(rss.value());
            engine->steering_report_ = "rss: known key and table, ports chosen by Toeplitz hash";
        } else if (options.steering == Steering::Rss) {
            return Unexpected{"--steering rss: port " + engine->port_->name() + ": " + rss.error()};
        } else {
            engine->steering_report_ = "software (" + rss.error() + ")";
        }
    } else {
        engine->steering_report_ = workers > 1 ? "software (as asked)" : "none (one worker)";
    }
    if (options.tcp_checksums != TcpChecksums::Full) {
        const std::string mode(tcp_checksums_name(options.tcp_checksums));
        SLUICE_LOG(INFO, control, "TCP checksums: %s (the link is trusted not to corrupt frames)",
                   mode.c_str());
        // Only memory links are safe to trust; say so loudly on anything else, where a flipped
        // bit would reach the application unnoticed.
        const std::string& driver = engine->port_->driver();
        if (driver != "net_memif" && driver != "net_ring") {
            SLUICE_LOG(WARNING, control,
                       "--tcp-checksums %s on port %s (driver %s), which is not a link of shared "
                       "memory: corrupted segments will not be detected",
                       mode.c_str(), engine->port_->name().c_str(), driver.c_str());
        }
    }
    SLUICE_LOG(INFO, control, "%u worker(s); steering: %s", workers,
               engine->steering_report_.c_str());

    for (std::uint16_t w = 0; w < workers; ++w) {
        WorkerConfig wc;
        wc.id = w;
        wc.port_id = engine->port_->id();
        wc.queue_id = w;
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
        wc.offloads.tcp = options.tcp_checksums;
        wc.mtu = engine->port_->mtu();
        wc.tcp.max_connections = options.max_connections;
        wc.tcp.msl = options.msl;
        wc.tcp.nagle = !options.nodelay;
        wc.tcp.keepalive = options.keepalive;
        wc.tcp.send_buffer = options.send_buffer;
        wc.tcp.receive_buffer = options.receive_buffer;
        wc.tcp.initial_rto = options.initial_rto;
        wc.tcp.congestion = options.congestion;
        wc.tcp.sack = options.sack;
        wc.tcp.max_out_of_order_segments = options.out_of_order_segments;
        // The workers share one pool: by default each may fill half its share with segments
        // held out of order, and the rest stays free for receiving.
        wc.tcp.max_out_of_order_worker_segments =
            options.out_of_order_worker_segments != 0
                ? options.out_of_order_worker_segments
                : std::max<std::uint32_t>(options.mbufs / (2 * options.workers), 1);
        wc.device_rss = engine->rss_ ? &*engine->rss_ : nullptr;
        wc.idle = options.idle;
        auto worker = Worker::create(wc, engine->pool_, engine->clock_);
        if (!worker)
            return Unexpected{worker.error()};

        WorkerLinksConfig links;
        links.worker = w;
        links.queue = w;
        links.local_addresses = local_addresses;
        links.rss = engine->rss_ ? &*engine->rss_ : nullptr;
        links.ownership = engine->control_.get();
        links.pool = engine->pool_;
        links.port_capacity = engine->control_->ports().pairs_total();
        links.ephemeral_first = options.ephemeral_ports.low;
        links.ephemeral_last = options.ephemeral_ports.high;
        for (std::uint16_t j = 0; j < workers; ++j) {
            links.to_worker.push_back(engine->control_->between(w, j));
            links.from_worker.push_back(engine->control_->between(j, w));
        }
        links.to_control = engine->control_->to_control(w);
        links.from_control = engine->control_->from_control(w);
        WorkerLinks& linked = worker.value()->link(std::move(links));
        // A first share of ports, so the first connect() needs no round trip. A lone worker
        // shares with no one and takes the whole space at once: a program may open ten thousand
        // connections in its first loop turn, long before a refill could come back.
        const std::size_t initial =
            workers == 1 ? engine->control_->ports().blocks_total() : kInitialBlocks;
        for (const PortBlock& b : engine->control_->lend_now(w, initial)) {
            linked.add_block(b.address_index, b.first_port, b.count);
        }
        engine->workers_.push_back(std::move(worker.value()));
    }

    if (auto st = engine->start_runtimes(program); !st)
        return Unexpected{st.error()};
    if (auto st = engine->start_services(); !st)
        return Unexpected{st.error()};
    TelemetrySources sources;
    for (auto& w : engine->workers_)
        sources.workers.push_back(w.get());
    sources.control = engine->control_.get();
    sources.listeners = engine->listeners_.get();
    sources.pool = engine->pool_;
    sources.steering = engine->steering_report_;
    for (const ServiceEntry& e : program.services->entries())
        sources.services.emplace_back(e.name, e.summary);
    Engine* self = engine.get();
    sources.listen = [self](const std::string& service, std::uint16_t port) {
        return self->listen_at_runtime(service, port);
    };
    sources.unlisten = [self](std::uint16_t port) { return self->unlisten_at_runtime(port); };
    engine->telemetry_ = Telemetry::attach(std::move(sources));
    if (options.connect_ip) {
        // The client runs on worker 0, started before the worker runs and then polled by it, so
        // nothing else ever touches that worker's stack.
        engine->client_ = std::make_unique<services::ClientFleet>(
            options.client_bytes,
            options.client_expect_echo ? std::optional<std::uint64_t>(options.client_bytes)
                                       : options.client_expect,
            options.client_connections, options.client_parallel);
        Worker& first = *engine->workers_.front();
        if (auto st =
                engine->client_->start(first.tcp(), *options.connect_ip, options.connect_port);
            !st) {
            return Unexpected{"--connect: " + std::string(std::strerror(st.error()))};
        }
        struct FleetPoller final : Poller {
            explicit FleetPoller(services::ClientFleet& f) : fleet(f) {}
            void poll() override { fleet.poll(); }
            services::ClientFleet& fleet;
        };
        engine->client_poller_ = std::make_unique<FleetPoller>(*engine->client_);
        engine->runtimes_.front()->chain(engine->client_poller_.get());
    }
    return engine;
}

Status<std::string> Engine::start_runtimes(const EngineProgram& program) {
    // One ring per ordered pair of workers, a worker's ring to itself included; created here, in
    // the control thread, and only ever used by the two workers it joins.
    static std::atomic<unsigned> engines{0};
    const unsigned engine_number = engines.fetch_add(1);
    const std::size_t n = workers_.size();
    message_rings_.assign(n * n, nullptr);
    for (std::size_t from = 0; from < n; ++from) {
        for (std::size_t to = 0; to < n; ++to) {
            const std::string name = "sl_msg_" + std::to_string(engine_number) + "_" +
                                     std::to_string(from) + "_" + std::to_string(to);
            rte_ring* r =
                rte_ring_create_elem(name.c_str(), sizeof(Task),
                                     app::WorkerRuntime::ring_slots(static_cast<unsigned>(n)),
                                     rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
            if (r == nullptr) {
                return Unexpected{"cannot create the message ring " + name + ": " +
                                  rte_strerror(rte_errno)};
            }
            message_rings_[from * n + to] = r;
        }
    }
    for (std::size_t w = 0; w < n; ++w) {
        app::WorkerRuntimeConfig rc;
        rc.workers = static_cast<unsigned>(n);
        rc.message_capacity = app::WorkerRuntime::ring_slots(static_cast<unsigned>(n)) - 1;
        rc.stop = &stop_request_;
        rc.start_hooks = program.start_hooks;
        for (std::size_t j = 0; j < n; ++j) {
            rc.to_worker.push_back(message_rings_[w * n + j]);
            rc.from_worker.push_back(message_rings_[j * n + w]);
        }
        runtimes_.push_back(std::make_unique<app::WorkerRuntime>(*workers_[w], std::move(rc)));
        workers_[w]->set_poller(runtimes_.back().get());
    }
    return {};
}

Result<std::unique_ptr<api::ListenHandler>, std::string> Engine::make_service(
    const std::string& name, std::size_t w) const {
    const ServiceEntry* entry = services_registry_->find(name);
    if (entry == nullptr)
        return Unexpected{unknown_service(name, services_registry_->names())};
    std::unique_ptr<api::ListenHandler> handler = entry->factory(*runtimes_[w]);
    if (handler == nullptr)
        return Unexpected{"service '" + name + "' made no handler for worker " + std::to_string(w)};
    return handler;
}

Status<std::string> Engine::start_services() {
    for (const ServiceOption& s : options_.services) {
        const std::string where = "--serve " + s.service + ":" + std::to_string(s.port);
        auto held = listeners_->add(wire::Ipv4Address{}, s.port, "service " + s.service);
        if (!held)
            return Unexpected{where + ": " + held.error().message};
        // Installed on every worker, so each accepts what RSS brings it.
        for (std::size_t w = 0; w < workers_.size(); ++w) {
            auto service = make_service(s.service, w);
            if (!service)
                return Unexpected{where + ": " + service.error()};
            tcp::TcpStack& tcp = workers_[w]->tcp();
            if (auto st = tcp.listen(*held, service->get()); !st) {
                return Unexpected{"--serve port " + std::to_string(*held) + ": " +
                                  std::strerror(st.error())};
            }
            services_.push_back(std::move(service.value()));
        }
    }
    return {};
}

Result<std::uint16_t, std::string> Engine::listen_at_runtime(const std::string& service,
                                                             std::uint16_t port) {
    // The handlers first: an unknown name or a factory that fails holds no port.
    std::vector<std::unique_ptr<api::ListenHandler>> made;
    for (std::size_t w = 0; w < workers_.size(); ++w) {
        auto handler = make_service(service, w);
        if (!handler)
            return Unexpected{handler.error()};
        made.push_back(std::move(handler.value()));
    }
    auto held = listeners_->add(wire::Ipv4Address{}, port, "service " + service);
    if (!held)
        return Unexpected{held.error().message};
    auto order = std::make_unique<ListenOrder>();
    order->port = *held;
    for (auto& handler : made) {
        order->handlers.push_back(handler.get());
        runtime_services_.push_back(std::move(handler));
    }
    if (auto st = carry_out(std::move(order)); !st) {
        listeners_->remove(wire::Ipv4Address{}, *held);
        return Unexpected{st.error()};
    }
    SLUICE_LOG(INFO, control, "listening on port %u (service %s), on every worker", *held,
               service.c_str());
    return *held;
}

Status<std::string> Engine::unlisten_at_runtime(std::uint16_t port) {
    if (!listeners_->remove(wire::Ipv4Address{}, port))
        return Unexpected{"nothing listens on port " + std::to_string(port)};
    auto order = std::make_unique<ListenOrder>();
    order->port = port;
    order->remove = true;
    if (auto st = carry_out(std::move(order)); !st)
        return st;
    SLUICE_LOG(INFO, control, "no longer listening on port %u", port);
    return {};
}

Status<std::string> Engine::carry_out(std::unique_ptr<ListenOrder> order) {
    ListenOrder& o = *order;
    // Kept until the engine ends: a worker that answers after the wait below still finds it.
    orders_.push_back(std::move(order));
    control_->post(&o);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (o.done.load(std::memory_order_acquire) < workers_.size()) {
        if (std::chrono::steady_clock::now() >= deadline)
            return Unexpected{std::string("the workers did not answer within 2 s")};
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (o.failed.load() != 0) {
        return Unexpected{std::to_string(o.failed.load()) + " worker(s) refused port " +
                          std::to_string(o.port)};
    }
    return {};
}

Engine::~Engine() {
    telemetry_.reset();  // no command may look at what is released below
    runtimes_.clear();
    workers_.clear();
    for (rte_ring* r : message_rings_)
        rte_ring_free(r);
    port_.reset();
    control_.reset();  // its rings may still hold packets of the pool
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

bool Engine::control_turn() {
    control_->poll();
    if (stop_request_.requested.load(std::memory_order_acquire))
        return true;
    if (client_ != nullptr && client_->finished())
        return true;
    return options_.duration.count() > 0 && std::chrono::steady_clock::now() >= deadline_;
}

void Engine::run(std::atomic<bool>& stop) {
    workers_.front()->net().announce();
    deadline_ = std::chrono::steady_clock::now() + options_.duration;

    // Workers get the lcores after the main one (EAL's -l); when there are not enough, the main
    // lcore polls worker 0 too and the control plane gets a plain thread of its own.
    std::vector<unsigned> lcores;
    for (unsigned l = rte_get_next_lcore(-1, 1, 0); l < RTE_MAX_LCORE;
         l = rte_get_next_lcore(l, 1, 0)) {
        lcores.push_back(l);
    }
    const bool main_polls = lcores.size() < workers_.size();
    run_on_lcores(stop, lcores, main_polls);
}

void Engine::run_on_lcores(std::atomic<bool>& stop, const std::vector<unsigned>& lcores,
                           bool main_polls) {
    const std::size_t first_remote = main_polls ? 1 : 0;
    std::vector<LaunchArgs> args(workers_.size());
    std::vector<unsigned> launched;
    for (std::size_t w = first_remote; w < workers_.size(); ++w) {
        const unsigned lcore = lcores[w - first_remote];
        args[w] = LaunchArgs{workers_[w].get(), &stop};
        rte_eal_remote_launch(worker_main, &args[w], lcore);
        launched.push_back(lcore);
        SLUICE_LOG(INFO, control, "worker %zu polling queue %zu on lcore %u", w, w, lcore);
    }
    if (!main_polls) {
        while (!stop.load()) {
            if (control_turn())
                stop.store(true);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    } else {
        SLUICE_LOG(INFO, control, "worker 0 polling queue 0 on the main lcore %u%s", rte_lcore_id(),
                   workers_.size() > 1 ? "; control plane on a thread" : "");
        std::thread control([&] {
            while (!stop.load()) {
                if (control_turn())
                    stop.store(true);
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        });
        workers_.front()->run(stop);
        control.join();
    }
    for (unsigned lcore : launched)
        rte_eal_wait_lcore(lcore);
}

int Engine::exit_status() const {
    if (stop_request_.requested.load(std::memory_order_acquire))
        return stop_request_.status.load();
    if (client_ == nullptr)
        return 0;
    return client_->succeeded() ? 0 : 1;
}

std::string Engine::ready_line() const {
    return "sluice: ready: " + options_.address.to_string() + " on port " +
           std::to_string(port_->id()) + " (" + port_->name() + ", " + port_->driver() + ", mac " +
           port_->mac().to_string() + ", link " + port_->link().text + ")";
}

void Engine::report(std::FILE* out) const {
    WorkerCounters total;
    for (const auto& w : workers_)
        total += w->counters();
    std::fprintf(out, "sluice: counters\n");
    total.for_each([&](std::string_view name, std::uint64_t value) {
        // Drop reasons that never happened are noise in a report; plain counters always show.
        if (value == 0 && name.rfind("drop.", 0) == 0)
            return;
        std::fprintf(out, "  %-36.*s %llu\n", static_cast<int>(name.size()), name.data(),
                     static_cast<unsigned long long>(value));
    });
    std::fprintf(out, "  %-36s %llu\n", "drop.total",
                 static_cast<unsigned long long>(total.dropped_total()));
    std::fprintf(out, "  %-36s %llu\n", "neighbor_entries",
                 static_cast<unsigned long long>(workers_.front()->net().neighbors().size()));
    // Buffers the pool has handed out and not got back: the rx rings' own plus anything held.
    std::fprintf(out, "  %-36s %u\n", "mbufs_in_use", rte_mempool_in_use_count(pool_));
    std::uint32_t connections = 0;
    std::array<std::uint32_t, tcp::kTcpStateCount> by_state{};
    for (const auto& w : workers_) {
        connections += w->tcp().connection_count();
        for (std::size_t s = 0; s < tcp::kTcpStateCount; ++s) {
            by_state[s] += w->tcp().connections_in(static_cast<tcp::TcpState>(s));
        }
    }
    std::fprintf(out, "  %-36s %u\n", "tcp_connections", connections);
    for (std::size_t s = 0; s < tcp::kTcpStateCount; ++s) {
        if (by_state[s] == 0)
            continue;
        const auto name = tcp::state_name(static_cast<tcp::TcpState>(s));
        std::fprintf(out, "  tcp_state.%-26.*s %u\n", static_cast<int>(name.size()), name.data(),
                     by_state[s]);
    }
    std::fprintf(out, "  %-36s %zu\n", "workers", workers_.size());
    std::uint64_t sleeps = 0;
    for (const auto& w : workers_)
        sleeps += w->idle_sleeps();
    std::fprintf(out, "  %-36s %llu\n", "idle_sleeps", static_cast<unsigned long long>(sleeps));
    // What programs asked of the workers (sluice/application.hpp).
    std::uint64_t messages = 0;
    std::uint64_t timers = 0;
    for (const auto& r : runtimes_) {
        messages += r->messages_run();
        timers += r->timers_run();
    }
    std::fprintf(out, "  %-36s %llu\n", "app_messages_run",
                 static_cast<unsigned long long>(messages));
    std::fprintf(out, "  %-36s %llu\n", "app_timers_run", static_cast<unsigned long long>(timers));
    std::fprintf(out, "  %-36s %zu\n", "ephemeral_blocks_lent", control_->ports().blocks_lent());
    std::fprintf(out, "  %-36s %zu\n", "ephemeral_blocks_total", control_->ports().blocks_total());
    std::fprintf(out, "  %-36s %llu\n", "ephemeral_refills",
                 static_cast<unsigned long long>(control_->refills_answered()));
    if (workers_.size() > 1) {
        // Per worker, what shows how the load spread and whether packets had to be steered.
        for (const auto& w : workers_) {
            const WorkerCounters& c = w->counters();
            const std::string prefix = "worker." + std::to_string(w->id()) + ".";
            const std::pair<const char*, std::uint64_t> lines[] = {
                {"rx_packets", c.rx_packets},
                {"tcp_passive_opens", c.tcp_passive_opens},
                {"tcp_active_opens", c.tcp_active_opens},
                {"steered_in", c.steered_in},
                {"steered_out", c.steered_out},
                {"tcp_connections", w->tcp().connection_count()},
                {"ephemeral_free", w->links() ? w->links()->ports().free_count() : 0},
            };
            for (const auto& [name, value] : lines) {
                std::fprintf(out, "  %-36s %llu\n", (prefix + name).c_str(),
                             static_cast<unsigned long long>(value));
            }
        }
    }
    if (client_ != nullptr)
        std::fprintf(out, "sluice: %s\n", client_->summary().c_str());
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
