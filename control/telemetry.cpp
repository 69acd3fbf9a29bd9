#include "control/telemetry.hpp"

#include <cctype>
#include <charconv>
#include <mutex>
#include <string_view>

#include <sluice/tcp_state.hpp>

namespace sluice::control {

namespace {

// rte_telemetry callbacks take no context pointer: the commands find the engine's Telemetry here.
// The mutex is held for a whole command, so detaching waits for a running one to finish.
std::mutex active_mutex;
const Telemetry* active = nullptr;

template <typename Call>
int with_active(rte_tel_data* d, Call&& call) {
    const std::lock_guard hold(active_mutex);
    if (active == nullptr) {
        rte_tel_data_string(d, "sluice is not running");
        return 0;
    }
    return call(*active);
}

int on_stats(const char*, const char* params, rte_tel_data* d) {
    return with_active(d, [&](const Telemetry& t) { return t.stats(params, d); });
}
int on_workers(const char*, const char*, rte_tel_data* d) {
    return with_active(d, [&](const Telemetry& t) { return t.workers(d); });
}
int on_listeners(const char*, const char*, rte_tel_data* d) {
    return with_active(d, [&](const Telemetry& t) { return t.listeners(d); });
}
int on_services(const char*, const char*, rte_tel_data* d) {
    return with_active(d, [&](const Telemetry& t) { return t.services(d); });
}
int on_ports(const char*, const char*, rte_tel_data* d) {
    return with_active(d, [&](const Telemetry& t) { return t.ports(d); });
}
int on_conns(const char*, const char* params, rte_tel_data* d) {
    return with_active(d, [&](const Telemetry& t) { return t.connections(params, d); });
}
int on_listen(const char*, const char* params, rte_tel_data* d) {
    return with_active(d, [&](const Telemetry& t) { return t.listen(params, d); });
}
int on_unlisten(const char*, const char* params, rte_tel_data* d) {
    return with_active(d, [&](const Telemetry& t) { return t.unlisten(params, d); });
}

void register_commands() {
    rte_telemetry_register_cmd("/sluice/stats", on_stats,
                               "Engine counters, summed over workers. Parameter: a worker id");
    rte_telemetry_register_cmd("/sluice/workers", on_workers,
                               "Per worker: packets, connections, steering, ephemeral ports");
    rte_telemetry_register_cmd("/sluice/listeners", on_listeners,
                               "Listening endpoints and who holds them");
    rte_telemetry_register_cmd("/sluice/services", on_services,
                               "The services /sluice/listen accepts, with what each does");
    rte_telemetry_register_cmd("/sluice/ports", on_ports,
                               "The ephemeral port space and its blocks per worker");
    rte_telemetry_register_cmd(
        "/sluice/conns", on_conns,
        "Connections (like ss -ti), a page at a time. Parameter: the offset of the first");
    rte_telemetry_register_cmd("/sluice/listen", on_listen,
                               "Installs a service on every worker. Parameter: SERVICE:PORT");
    rte_telemetry_register_cmd("/sluice/unlisten", on_unlisten,
                               "Removes the listener on a port from every worker. Parameter: PORT");
}

std::optional<std::uint64_t> parse_number(const char* params) {
    if (params == nullptr || *params == '\0')
        return std::nullopt;
    const std::string_view text(params);
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

std::string endpoint(wire::Ipv4Address address, std::uint16_t port) {
    return address.to_string() + ":" + std::to_string(port);
}

std::uint64_t micros(Nanos n) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(n).count());
}

// rte_telemetry drops entries whose names hold anything but letters, digits, '_' and '/'.
std::string telemetry_name(std::string_view name) {
    std::string out(name);
    for (char& c : out) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '/')
            c = '_';
    }
    return out;
}

void add_u64(rte_tel_data* d, std::string_view name, std::uint64_t value) {
    rte_tel_data_add_dict_u64(d, telemetry_name(name).c_str(), value);
}

}  // namespace

std::unique_ptr<Telemetry> Telemetry::attach(TelemetrySources sources) {
    static std::once_flag registered;
    std::call_once(registered, register_commands);
    std::unique_ptr<Telemetry> t(new Telemetry(std::move(sources)));
    const std::lock_guard hold(active_mutex);
    active = t.get();
    return t;
}

Telemetry::~Telemetry() {
    const std::lock_guard hold(active_mutex);
    if (active == this)
        active = nullptr;
}

bool Telemetry::snapshot(std::size_t worker, std::optional<std::uint32_t> offset,
                         WorkerSnapshot& out) const {
    return sources_.workers[worker]->inspection().inspect(offset, kWorkerTimeout, out) ==
           InspectionMailbox::Outcome::Answered;
}

int Telemetry::stats(const char* params, rte_tel_data* d) const {
    std::size_t first = 0;
    std::size_t last = sources_.workers.size();
    if (params != nullptr && *params != '\0') {
        const auto w = parse_number(params);
        if (!w || *w >= sources_.workers.size())
            return -EINVAL;
        first = *w;
        last = *w + 1;
    }
    WorkerCounters total;
    std::uint64_t connections = 0;
    std::array<std::uint64_t, tcp::kTcpStateCount> by_state{};
    auto s = std::make_unique<WorkerSnapshot>();
    for (std::size_t w = first; w < last; ++w) {
        if (!snapshot(w, std::nullopt, *s))
            return -EAGAIN;
        total += s->counters;
        connections += s->connections;
        for (std::size_t i = 0; i < by_state.size(); ++i)
            by_state[i] += s->by_state[i];
    }
    rte_tel_data_start_dict(d);
    total.for_each([&](std::string_view name, std::uint64_t value) {
        if (value == 0 && name.rfind("drop.", 0) == 0)
            return;  // the reasons that never happened would crowd out the rest
        add_u64(d, name, value);
    });
    add_u64(d, "drop_total", total.dropped_total());
    add_u64(d, "tcp_connections", connections);
    for (std::size_t i = 0; i < by_state.size(); ++i) {
        add_u64(d, "tcp_state_" + std::string(tcp::state_name(static_cast<tcp::TcpState>(i))),
                by_state[i]);
    }
    add_u64(d, "workers", sources_.workers.size());
    add_u64(d, "mbufs_in_use", rte_mempool_in_use_count(sources_.pool));
    return 0;
}

int Telemetry::workers(rte_tel_data* d) const {
    rte_tel_data_start_dict(d);
    auto s = std::make_unique<WorkerSnapshot>();
    for (std::size_t w = 0; w < sources_.workers.size(); ++w) {
        if (!snapshot(w, std::nullopt, *s))
            return -EAGAIN;
        rte_tel_data* row = rte_tel_data_alloc();
        if (row == nullptr)
            return -ENOMEM;
        rte_tel_data_start_dict(row);
        const WorkerCounters& c = s->counters;
        add_u64(row, "rx_packets", c.rx_packets);
        add_u64(row, "tx_packets", c.tx_packets);
        add_u64(row, "rx_bytes", c.rx_bytes);
        add_u64(row, "tx_bytes", c.tx_bytes);
        add_u64(row, "drops", c.dropped_total());
        add_u64(row, "connections", s->connections);
        add_u64(row, "established",
                s->by_state[static_cast<std::size_t>(tcp::TcpState::Established)]);
        add_u64(row, "passive_opens", c.tcp_passive_opens);
        add_u64(row, "active_opens", c.tcp_active_opens);
        add_u64(row, "retransmitted_segments", c.tcp_retransmitted_segments);
        add_u64(row, "steered_in", c.steered_in);
        add_u64(row, "steered_out", c.steered_out);
        add_u64(row, "listeners", s->listeners);
        add_u64(row, "ephemeral_free", s->ephemeral_free);
        rte_tel_data_add_dict_container(d, std::to_string(w).c_str(), row, 0);
    }
    return 0;
}

int Telemetry::listeners(rte_tel_data* d) const {
    rte_tel_data_start_dict(d);
    std::size_t index = 0;
    for (const ListenEntry& e : sources_.listeners->entries()) {
        rte_tel_data* row = rte_tel_data_alloc();
        if (row == nullptr)
            return -ENOMEM;
        rte_tel_data_start_dict(row);
        rte_tel_data_add_dict_string(row, "address", e.address.to_string().c_str());
        add_u64(row, "port", e.port);
        rte_tel_data_add_dict_string(row, "holder", e.holder.c_str());
        add_u64(row, "workers", sources_.workers.size());
        rte_tel_data_add_dict_container(d, std::to_string(index++).c_str(), row, 0);
    }
    return 0;
}

int Telemetry::services(rte_tel_data* d) const {
    rte_tel_data_start_dict(d);
    for (const auto& [name, summary] : sources_.services)
        rte_tel_data_add_dict_string(d, name.c_str(), summary.c_str());
    return 0;
}

int Telemetry::ports(rte_tel_data* d) const {
    const ControlPlane::PortSpaceReport r = sources_.control->port_report();
    rte_tel_data_start_dict(d);
    add_u64(d, "first_port", r.first_port);
    add_u64(d, "last_port", r.last_port);
    std::string addresses;
    for (const auto& a : r.addresses)
        addresses += (addresses.empty() ? "" : " ") + a.to_string();
    rte_tel_data_add_dict_string(d, "addresses", addresses.c_str());
    add_u64(d, "block_size", r.block_size);
    add_u64(d, "blocks_total", r.blocks_total);
    add_u64(d, "blocks_lent", r.blocks_lent);
    add_u64(d, "blocks_free", r.blocks_total - r.blocks_lent);
    add_u64(d, "refills_answered", r.refills_answered);
    add_u64(d, "refills_refused", r.refills_refused);
    add_u64(d, "blocks_returned", r.blocks_returned);
    rte_tel_data_add_dict_string(d, "steering", sources_.steering.c_str());
    auto s = std::make_unique<WorkerSnapshot>();
    for (std::size_t w = 0; w < sources_.workers.size(); ++w) {
        const std::string prefix = "worker_" + std::to_string(w) + "_";
        add_u64(d, prefix + "blocks", r.blocks_by_worker[w]);
        if (snapshot(w, std::nullopt, *s))
            add_u64(d, prefix + "free", s->ephemeral_free);
    }
    return 0;
}

int Telemetry::connections(const char* params, rte_tel_data* d) const {
    std::uint64_t offset = 0;
    if (params != nullptr && *params != '\0') {
        const auto o = parse_number(params);
        if (!o)
            return -EINVAL;
        offset = *o;
    }
    rte_tel_data_start_dict(d);
    // The page starts `offset` connections in, counting across workers in order.
    auto s = std::make_unique<WorkerSnapshot>();
    std::uint64_t total = 0;
    std::uint64_t listed = 0;
    for (std::size_t w = 0; w < sources_.workers.size(); ++w) {
        const std::uint64_t skip = offset > total ? offset - total : 0;
        if (!snapshot(w, static_cast<std::uint32_t>(std::min<std::uint64_t>(skip, UINT32_MAX)), *s))
            return -EAGAIN;
        total += s->connections;
        for (std::uint32_t i = 0; i < s->page_count && listed < WorkerSnapshot::kPageSize; ++i) {
            const api::ConnectionInfo& c = s->page[i];
            rte_tel_data* row = rte_tel_data_alloc();
            if (row == nullptr)
                return -ENOMEM;
            rte_tel_data_start_dict(row);
            rte_tel_data_add_dict_string(
                row, "local",
                endpoint(wire::Ipv4Address::from_host(c.tuple.local_ip), c.tuple.local_port)
                    .c_str());
            rte_tel_data_add_dict_string(
                row, "remote",
                endpoint(wire::Ipv4Address::from_host(c.tuple.remote_ip), c.tuple.remote_port)
                    .c_str());
            rte_tel_data_add_dict_string(row, "state",
                                         std::string(tcp::state_name(c.state)).c_str());
            add_u64(row, "worker", w);
            add_u64(row, "mss", c.mss);
            add_u64(row, "cwnd", c.cwnd);
            add_u64(row, "ssthresh", c.ssthresh);
            rte_tel_data_add_dict_string(
                row, "congestion",
                std::string(tcp::congestion::algorithm_name(c.congestion)).c_str());
            add_u64(row, "srtt_us", micros(c.srtt));
            add_u64(row, "rttvar_us", micros(c.rttvar));
            add_u64(row, "rto_us", micros(c.rto));
            add_u64(row, "retransmits", c.retransmits);
            add_u64(row, "reordering_seen", c.reordering_seen ? 1 : 0);
            add_u64(row, "reorder_window_us", micros(c.reorder_window));
            add_u64(row, "bytes_in_flight", c.bytes_in_flight);
            add_u64(row, "send_window", c.send_window);
            add_u64(row, "send_queue", c.send_queue_bytes);
            add_u64(row, "receive_queue", c.receive_queue_bytes);
            rte_tel_data_add_dict_container(d, std::to_string(offset + listed).c_str(), row, 0);
            ++listed;
        }
    }
    add_u64(d, "total", total);
    add_u64(d, "offset", offset);
    add_u64(d, "next", offset + listed < total ? offset + listed : total);
    return 0;
}

int Telemetry::listen(const char* params, rte_tel_data* d) const {
    const std::string_view text = params != nullptr ? params : "";
    const auto colon = text.rfind(':');
    const std::optional<std::uint64_t> port =
        colon == std::string_view::npos ? std::nullopt
                                        : parse_number(std::string(text.substr(colon + 1)).c_str());
    rte_tel_data_start_dict(d);
    if (!port || *port > 65535) {
        rte_tel_data_add_dict_string(d, "error",
                                     "expected SERVICE:PORT (SERVICE one of echo, discard, "
                                     "source, http; PORT 0-65535, 0 for any free port)");
        return 0;
    }
    const auto held =
        sources_.listen(std::string(text.substr(0, colon)), static_cast<std::uint16_t>(*port));
    if (!held) {
        rte_tel_data_add_dict_string(d, "error", held.error().c_str());
        return 0;
    }
    add_u64(d, "port", *held);
    return 0;
}

int Telemetry::unlisten(const char* params, rte_tel_data* d) const {
    const auto port = parse_number(params);
    rte_tel_data_start_dict(d);
    if (!port || *port == 0 || *port > 65535) {
        rte_tel_data_add_dict_string(d, "error", "expected PORT (1-65535)");
        return 0;
    }
    if (auto st = sources_.unlisten(static_cast<std::uint16_t>(*port)); !st) {
        rte_tel_data_add_dict_string(d, "error", st.error().c_str());
        return 0;
    }
    add_u64(d, "port", *port);
    return 0;
}

}  // namespace sluice::control
