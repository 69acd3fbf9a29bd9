#include "control/config/options.hpp"

#include <array>
#include <charconv>

#include "control/config/config_file.hpp"

namespace sluice::control {

namespace {

// What a setting's apply() returns: nothing when the value was taken, else what is allowed.
using Refusal = std::optional<std::string>;

template <typename Int>
std::optional<Int> parse_int(const std::string& text, Int min, Int max) {
    Int value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value < min || value > max) {
        return std::nullopt;
    }
    return value;
}

std::optional<bool> parse_yes_no(const std::string& text) {
    if (text == "yes")
        return true;
    if (text == "no")
        return false;
    return std::nullopt;
}

bool unicast(wire::Ipv4Address a) {
    return !a.is_any() && !a.is_multicast() && !a.is_limited_broadcast() && !a.is_loopback();
}

// `where` is a flag ("--vlan") or a place in the config file ("sluice.ini:7: [engine] vlan").
std::string bad(const std::string& where, const std::string& value, const std::string& allowed) {
    return where + " '" + value + "': " + allowed;
}

// One function per setting; the command line and the config file both call it.

Refusal set_addr(EngineOptions& o, const std::string& value) {
    const auto a = wire::Ipv4Interface::parse(value);
    if (!a)
        return "expected an IPv4 address and prefix length, e.g. 10.0.0.2/24";
    if (!unicast(a->address) || a->prefix_length == 0) {
        return "must be a unicast, non-loopback address with a prefix length of 1 to 32";
    }
    o.address = *a;
    return std::nullopt;
}

Refusal set_gateway(EngineOptions& o, const std::string& value) {
    const auto g = wire::Ipv4Address::parse(value);
    if (!g)
        return "expected an IPv4 address, e.g. 10.0.0.1";
    o.gateway = *g;  // on the --addr subnet: checked once both are known
    return std::nullopt;
}

Refusal set_port(EngineOptions& o, const std::string& value) {
    if (value.empty())
        return "expected a port id, name or vdev string";
    o.port = value;
    return std::nullopt;
}

Refusal set_vlan(EngineOptions& o, const std::string& value) {
    const auto v = parse_int<std::uint16_t>(value, 1, 4094);
    if (!v)
        return "expected a VLAN id from 1 to 4094";
    o.vlan_id = *v;
    return std::nullopt;
}

Refusal set_mtu(EngineOptions& o, const std::string& value) {
    const auto v = parse_int<std::uint16_t>(value, 68, 65535);
    if (!v)
        return "expected a whole number of bytes from 68 to 65535";
    o.mtu = *v;
    return std::nullopt;
}

Refusal set_mbufs(EngineOptions& o, const std::string& value) {
    const auto v = parse_int<std::uint32_t>(value, 1023, 4194303);
    if (!v)
        return "expected a whole number from 1023 to 4194303";
    o.mbufs = *v;
    return std::nullopt;
}

Refusal set_workers(EngineOptions& o, const std::string& value) {
    const auto v = parse_int<std::uint32_t>(value, 1, 64);
    if (!v)
        return "expected a whole number from 1 to 64";
    o.workers = *v;
    return std::nullopt;
}

Refusal set_duration(EngineOptions& o, const std::string& value) {
    const auto v = parse_int<std::uint32_t>(value, 1, 31536000);
    if (!v)
        return "expected seconds from 1 to 31536000";
    o.duration = std::chrono::seconds(*v);
    return std::nullopt;
}

Refusal set_offloads(EngineOptions& o, const std::string& value) {
    const auto v = parse_yes_no(value);
    if (!v)
        return "expected yes or no";
    o.offloads = *v;
    return std::nullopt;
}

Refusal set_tcp_checksums(EngineOptions& o, const std::string& value) {
    const auto v = parse_tcp_checksums(value);
    if (!v)
        return "expected full, trust-received or off";
    o.tcp_checksums = *v;
    return std::nullopt;
}

Refusal add_local_addr(EngineOptions& o, const std::string& value) {
    const auto a = wire::Ipv4Address::parse(value);
    if (!a)
        return "expected an IPv4 address, e.g. 10.0.0.3";
    if (!unicast(*a))
        return "must be a unicast, non-loopback address";
    for (const wire::Ipv4Address& earlier : o.local_addresses) {
        if (earlier == *a)
            return "already given";
    }
    o.local_addresses.push_back(*a);
    return std::nullopt;
}

Refusal set_arp_entries(EngineOptions& o, const std::string& value) {
    const auto v = parse_int<std::uint32_t>(value, 8, 1048576);
    if (!v)
        return "expected a whole number from 8 to 1048576";
    o.neighbor_capacity = *v;
    return std::nullopt;
}

Refusal set_arp_timeout(EngineOptions& o, const std::string& value) {
    const auto v = parse_int<std::uint32_t>(value, 1, 86400);
    if (!v)
        return "expected seconds from 1 to 86400";
    o.neighbor_timeout = std::chrono::seconds(*v);
    return std::nullopt;
}

Refusal set_max_connections(EngineOptions& o, const std::string& value) {
    const auto v = parse_int<std::uint32_t>(value, 16, 16777216);
    if (!v)
        return "expected a whole number from 16 to 16777216";
    o.max_connections = *v;
    return std::nullopt;
}

Refusal set_msl(EngineOptions& o, const std::string& value) {
    const auto v = parse_int<std::uint32_t>(value, 1, 600);
    if (!v)
        return "expected seconds from 1 to 600";
    o.msl = std::chrono::seconds(*v);
    return std::nullopt;
}

Refusal set_nagle(EngineOptions& o, const std::string& value) {
    const auto v = parse_yes_no(value);
    if (!v)
        return "expected yes or no";
    o.nodelay = !*v;
    return std::nullopt;
}

Refusal set_keepalive(EngineOptions& o, const std::string& value) {
    const auto v = parse_yes_no(value);
    if (!v)
        return "expected yes or no";
    o.keepalive = *v;
    return std::nullopt;
}

// Up to 64 MiB: the window scale (RFC 7323 2.3, at most 14) follows the receive buffer.
std::optional<std::uint32_t> parse_buffer(const std::string& value) {
    return parse_int<std::uint32_t>(value, 4096, 64u << 20);
}

Refusal set_send_buffer(EngineOptions& o, const std::string& value) {
    const auto v = parse_buffer(value);
    if (!v)
        return "expected bytes from 4096 to 67108864";
    o.send_buffer = *v;
    return std::nullopt;
}

Refusal set_receive_buffer(EngineOptions& o, const std::string& value) {
    const auto v = parse_buffer(value);
    if (!v)
        return "expected bytes from 4096 to 67108864";
    o.receive_buffer = *v;
    return std::nullopt;
}

Refusal set_congestion(EngineOptions& o, const std::string& value) {
    const auto v = tcp::congestion::parse_algorithm(value);
    if (!v)
        return "expected newreno or cubic";
    o.congestion = *v;
    return std::nullopt;
}

Refusal set_sack(EngineOptions& o, const std::string& value) {
    const auto v = parse_yes_no(value);
    if (!v)
        return "expected yes or no";
    o.sack = *v;
    return std::nullopt;
}

// 0 means a whole receive window's worth; the upper bound keeps one connection from holding
// more mbufs than a large pool has.
Refusal set_out_of_order_segments(EngineOptions& o, const std::string& value) {
    const auto v = parse_int<std::uint32_t>(value, 0, 1u << 20);
    if (!v)
        return "expected segments from 0 (a whole receive window) to 1048576";
    o.out_of_order_segments = *v;
    return std::nullopt;
}

Refusal set_out_of_order_worker_segments(EngineOptions& o, const std::string& value) {
    const auto v = parse_int<std::uint32_t>(value, 0, 4194303);
    if (!v)
        return "expected segments from 0 (half the worker's share of the mbuf pool) to 4194303";
    o.out_of_order_worker_segments = *v;
    return std::nullopt;
}

// Within the RTO's own bounds: 200 ms (Linux's minimum) to 60 s (RFC 6298 2.5).
Refusal set_initial_rto(EngineOptions& o, const std::string& value) {
    const auto v = parse_int<std::uint32_t>(value, 200, 60000);
    if (!v)
        return "expected milliseconds from 200 to 60000";
    o.initial_rto = std::chrono::milliseconds(*v);
    return std::nullopt;
}

Refusal set_ephemeral_ports(EngineOptions& o, const std::string& value) {
    const std::size_t dash = value.find('-');
    const auto low = parse_int<std::uint16_t>(value.substr(0, dash), 1024, 65535);
    const auto high = dash == std::string::npos
                          ? std::nullopt
                          : parse_int<std::uint16_t>(value.substr(dash + 1), 1024, 65535);
    if (!low || !high || *low > *high || PortRange{*low, *high}.size() < 64) {
        return "expected LO-HI, ports from 1024 to 65535 with LO <= HI and at least 64 of "
               "them, e.g. 49152-65535";
    }
    o.ephemeral_ports = {*low, *high};
    return std::nullopt;
}

Refusal set_idle(EngineOptions& o, const std::string& value) {
    if (value == "poll") {
        o.idle = IdleMode::Poll;
    } else if (value == "adaptive") {
        o.idle = IdleMode::Adaptive;
    } else {
        return "expected poll or adaptive";
    }
    return std::nullopt;
}

Refusal set_steering(EngineOptions& o, const std::string& value) {
    if (value == "auto") {
        o.steering = Steering::Auto;
    } else if (value == "rss") {
        o.steering = Steering::Rss;
    } else if (value == "software") {
        o.steering = Steering::Software;
    } else {
        return "expected auto, rss or software";
    }
    return std::nullopt;
}

}  // namespace

std::string unknown_service(const std::string& name, const std::vector<std::string>& known) {
    std::string list;
    for (const std::string& k : known)
        list += (list.empty() ? "" : ", ") + k;
    return "unknown service '" + name + "': the services are " + (list.empty() ? "(none)" : list);
}

namespace {

Refusal add_service(EngineOptions& o, const std::string& value) {
    const std::size_t colon = value.find(':');
    const std::string kind = value.substr(0, colon);
    // 0 for none: the ports allowed start at 1.
    const std::uint16_t port =
        colon == std::string::npos
            ? 0
            : parse_int<std::uint16_t>(value.substr(colon + 1), 1, 65535).value_or(0);
    if (std::find(o.service_names.begin(), o.service_names.end(), kind) == o.service_names.end())
        return unknown_service(kind, o.service_names) + ", as NAME:PORT (e.g. http:80)";
    if (port == 0)
        return "expected NAME:PORT with a port from 1 to 65535, e.g. http:80";
    for (const ServiceOption& s : o.services) {
        if (s.port == port)
            return "port " + std::to_string(port) + " already has a service";
    }
    o.services.push_back({kind, port});
    return std::nullopt;
}

Refusal set_http_body(EngineOptions& o, const std::string& value) {
    const auto v = parse_int<std::uint64_t>(value, 0, std::uint64_t{1} << 34);
    if (!v)
        return "expected bytes from 0 to 17179869184";
    o.http_body = *v;
    return std::nullopt;
}

std::optional<std::uint64_t> parse_pattern_bytes(const std::string& value) {
    return parse_int<std::uint64_t>(value, 0, std::uint64_t{1} << 40);
}

Refusal set_source_bytes(EngineOptions& o, const std::string& value) {
    const auto v = parse_pattern_bytes(value);
    if (!v)
        return "expected bytes from 0 to 1099511627776";
    o.source_bytes = *v;
    return std::nullopt;
}

Refusal set_connect(EngineOptions& o, const std::string& value) {
    const auto endpoint = wire::Ipv4Endpoint::parse(value);
    if (!endpoint)
        return "expected IP:PORT, e.g. 10.0.0.1:7";
    o.connect_ip = endpoint->address;
    o.connect_port = endpoint->port;
    return std::nullopt;
}

Refusal set_client_bytes(EngineOptions& o, const std::string& value) {
    const auto v = parse_pattern_bytes(value);
    if (!v)
        return "expected bytes from 0 to 1099511627776";
    o.client_bytes = *v;
    return std::nullopt;
}

Refusal set_client_expect(EngineOptions& o, const std::string& value) {
    if (value == "echo" || value == "any") {
        o.client_expect_echo = value == "echo";
        o.client_expect.reset();
        return std::nullopt;
    }
    const auto v = parse_pattern_bytes(value);
    if (!v)
        return "expected echo, any, or bytes from 0 to 1099511627776";
    o.client_expect_echo = false;
    o.client_expect = *v;
    return std::nullopt;
}

Refusal set_client_connections(EngineOptions& o, const std::string& value) {
    const auto v = parse_int<std::uint32_t>(value, 1, 10000000);
    if (!v)
        return "expected a whole number from 1 to 10000000";
    o.client_connections = *v;
    return std::nullopt;
}

Refusal set_client_parallel(EngineOptions& o, const std::string& value) {
    const auto v = parse_int<std::uint32_t>(value, 1, 65536);
    if (!v)
        return "expected a whole number from 1 to 65536";
    o.client_parallel = *v;
    return std::nullopt;
}

void clear_local_addrs(EngineOptions& o) {
    o.local_addresses.clear();
}
void clear_services(EngineOptions& o) {
    o.services.clear();
}

constexpr std::array kSettings = {
    Setting{"--addr", "engine", "addr", "", set_addr},
    Setting{"--gateway", "engine", "gateway", "", set_gateway},
    Setting{"--port", "engine", "port", "", set_port},
    Setting{"--vlan", "engine", "vlan", "", set_vlan},
    Setting{"--mtu", "engine", "mtu", "", set_mtu},
    Setting{"--mbufs", "engine", "mbufs", "", set_mbufs},
    Setting{"--workers", "engine", "workers", "", set_workers},
    Setting{"--duration", "engine", "duration", "", set_duration},
    Setting{"--idle", "engine", "idle", "", set_idle},
    Setting{"--no-offloads", "engine", "offloads", "no", set_offloads},
    Setting{"--tcp-checksums", "engine", "tcp-checksums", "", set_tcp_checksums},
    Setting{"--local-addr", "engine", "local-addr", "", add_local_addr, clear_local_addrs},
    Setting{"--arp-entries", "arp", "entries", "", set_arp_entries},
    Setting{"--arp-timeout", "arp", "timeout", "", set_arp_timeout},
    Setting{"--max-connections", "tcp", "max-connections", "", set_max_connections},
    Setting{"--msl", "tcp", "msl", "", set_msl},
    Setting{"--nodelay", "tcp", "nagle", "no", set_nagle},
    Setting{"--keepalive", "tcp", "keepalive", "yes", set_keepalive},
    Setting{"--send-buffer", "tcp", "send-buffer", "", set_send_buffer},
    Setting{"--receive-buffer", "tcp", "receive-buffer", "", set_receive_buffer},
    Setting{"--initial-rto", "tcp", "initial-rto", "", set_initial_rto},
    Setting{"--congestion", "tcp", "congestion", "", set_congestion},
    Setting{"--no-sack", "tcp", "sack", "no", set_sack},
    Setting{"--ooo-segments", "tcp", "out-of-order-segments", "", set_out_of_order_segments},
    Setting{"--ooo-worker-segments", "tcp", "out-of-order-worker-segments", "",
            set_out_of_order_worker_segments},
    Setting{"--ephemeral-ports", "tcp", "ephemeral-ports", "", set_ephemeral_ports},
    Setting{"--steering", "tcp", "steering", "", set_steering},
    Setting{"--serve", "services", "serve", "", add_service, clear_services},
    Setting{"--http-body", "services", "http-body", "", set_http_body},
    Setting{"--source-bytes", "services", "source-bytes", "", set_source_bytes},
    Setting{"--connect", "client", "connect", "", set_connect},
    Setting{"--client-bytes", "client", "bytes", "", set_client_bytes},
    Setting{"--client-expect", "client", "expect", "", set_client_expect},
    Setting{"--client-connections", "client", "connections", "", set_client_connections},
    Setting{"--client-parallel", "client", "parallel", "", set_client_parallel},
};

const Setting* find_flag(const std::string& flag) {
    for (const Setting& s : kSettings) {
        if (s.flag == flag)
            return &s;
    }
    return nullptr;
}

std::size_t index_of(std::string_view flag) {
    for (std::size_t i = 0; i < kSettings.size(); ++i) {
        if (kSettings[i].flag == flag)
            return i;
    }
    return kSettings.size();
}

// Applies values from the file and then the command line, remembering where each came from, for
// the checks that need two settings and for replacing the file's lists.
class OptionsBuilder {
  public:
    Refusal apply(const Setting& s, const std::string& value, const std::string& where,
                  bool from_file) {
        const std::size_t i = static_cast<std::size_t>(&s - kSettings.data());
        if (s.repeatable() && !from_file && from_file_[i]) {
            s.clear(o_);
            where_[i].clear();
        }
        if (Refusal allowed = s.apply(o_, value))
            return bad(where, value, *allowed);
        if (!s.repeatable())
            where_[i].clear();
        where_[i].push_back(where);
        from_file_[i] = from_file;
        return std::nullopt;
    }

    Result<EngineOptions, std::string> finish() && {
        const std::size_t addr = index_of("--addr");
        if (where_[addr].empty()) {
            return Unexpected{std::string(
                "--addr is required, e.g. --addr 10.0.0.2/24 (or addr in the [engine] section "
                "of a --config file)")};
        }
        const std::string addr_name = from_file_[addr] ? "addr" : "--addr";
        if (o_.gateway) {
            if (!o_.address.on_link(*o_.gateway) || *o_.gateway == o_.address.address) {
                return Unexpected{bad(where_[index_of("--gateway")].front(),
                                      o_.gateway->to_string(),
                                      "must be another address on the " + addr_name + " subnet " +
                                          o_.address.to_string())};
            }
        }
        const std::size_t local = index_of("--local-addr");
        for (std::size_t i = 0; i < o_.local_addresses.size(); ++i) {
            if (o_.local_addresses[i] == o_.address.address) {
                return Unexpected{bad(where_[local][i], o_.local_addresses[i].to_string(),
                                      "is the " + addr_name + " address already")};
            }
        }
        return std::move(o_);
    }

    EngineOptions& options() { return o_; }

  private:
    EngineOptions o_;
    std::array<std::vector<std::string>, kSettings.size()> where_;
    std::array<bool, kSettings.size()> from_file_{};
};

}  // namespace

std::span<const Setting> settings() {
    return kSettings;
}

std::string usage(std::string_view program) {
    return "usage: " + std::string(program) + R"( [EAL options] -- --addr IP/PREFIX [options]

EAL options are DPDK's own (-l CORES, --vdev DEVICE, -a PCI, --no-huge, -m MB, --log-level ...).

Engine options:
  --config FILE           read settings from an INI file first, wherever this flag stands; the
                          other flags override it (an example with every key: deploy/sluice.ini)
  --addr IP/PREFIX        the engine's IPv4 address and prefix length (required), e.g. 10.0.0.2/24
  --gateway IP            next hop for destinations off the --addr subnet
  --port DEVICE           port id, port name, or a vdev to create (net_tap0,iface=sl0);
                          default: the first port EAL found
  --vlan ID               send and accept frames tagged with this 802.1Q VLAN id (1-4094)
  --mtu BYTES             set the port's MTU (the device's own range applies)
  --mbufs N               packet buffers in the pool (1023-4194303, default 8191)
  --workers N             worker threads, on the cores of EAL's -l after the main one
                          (1-64, default 1)
  --local-addr IP         a further address of this host for connections the engine opens, for
                          more ephemeral ports (repeatable)
  --arp-entries N         neighbor cache capacity (8-1048576, default 1024)
  --arp-timeout SECONDS   how long an ARP answer is trusted (1-86400, default 300)
  --no-offloads           do checksums in software even where the device could
  --tcp-checksums MODE    full (default): sum every TCP segment sent, check every one received;
                          trust-received: do not check received ones; off: neither, and the
                          peer must not check either. Only for a link of shared memory between
                          processes of this host (net_memif, net_ring), never for a wire
  --duration SECONDS      stop after this long (default: run until SIGINT or SIGTERM)
  --idle MODE             poll (default): spin on the queues, the lowest latency; adaptive:
                          sleep in short spells (20-200 us) after 0.5 ms with nothing to do, leaving a
                          quiet engine's core to the rest of the machine

TCP services and client:
  --serve NAME:PORT       run a service on a port, on every worker (repeatable); the services
                          are listed under "Services" below
  --http-body BYTES       the HTTP response body size (0-17179869184, default 1024)
  --source-bytes BYTES    what the source service sends (default 1048576)
  --connect IP:PORT       connect there, send --client-bytes of the test pattern, half-close, read
                          to the end and check it; stop when done (exit status 0 when all was right)
  --client-bytes BYTES    what the client sends (default 1048576)
  --client-expect WHAT    what each connection must receive back: echo (as many bytes as it
                          sent, default), a number of bytes, or any
  --client-connections N  run the client N times, each a new connection and ephemeral port
                          (1-10000000, default 1); success needs every one to succeed
  --client-parallel P     at most P of those connections at once (1-65536, default 1)

TCP settings:
  --max-connections N     connections per worker, TIME-WAIT included (16-16777216, default 65536)
  --msl SECONDS           maximum segment lifetime; TIME-WAIT lasts twice this (1-600, default 30)
  --nodelay               Nagle's algorithm off for every connection
  --keepalive             keepalive probes on for every connection
  --send-buffer BYTES     send buffer per connection (4096-67108864, default 262144)
  --receive-buffer BYTES  receive buffer per connection, the largest window offered
                          (4096-67108864, default 262144)
  --initial-rto MS        retransmission timeout before the first RTT sample, in milliseconds
                          (200-60000, default 1000)
  --congestion ALGO       congestion control for every connection: cubic (RFC 9438, default) or
                          newreno (RFC 5681, 6582)
  --no-sack               neither offer nor accept selective acknowledgments (RFC 2018)
  --ooo-segments N        out-of-order segments held per connection (0-1048576; default 0: a
                          whole receive window's worth, receive buffer / 512)
  --ooo-worker-segments N out-of-order segments held by all of a worker's connections together
                          (0-4194303; default 0: half the worker's share of --mbufs)
  --ephemeral-ports LO-HI local ports for connections the engine opens (within 1024-65535, at
                          least 64 ports, default 49152-65535)
  --steering MODE         how segments find their worker: auto (RSS where the NIC can), rss or
                          software (default auto)
  -h, --help              this text
)";
}

Result<EngineOptions, std::string> parse_options(const std::vector<std::string>& args,
                                                 const std::vector<std::string>& services) {
    struct FlagValue {
        const Setting* setting;
        std::string flag;
        std::string value;
    };
    std::vector<FlagValue> flags;
    std::optional<std::string> config;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& flag = args[i];
        const Setting* s = find_flag(flag);
        if (s == nullptr && flag != "--config") {
            if (flag.rfind("-", 0) != 0) {
                return Unexpected{"unexpected argument '" + flag + "' (see --help)"};
            }
            return Unexpected{"unknown option '" + flag + "' (see --help)"};
        }
        const bool takes_value = s == nullptr || s->implied.empty();
        if (takes_value && i + 1 >= args.size()) {
            return Unexpected{flag + " needs a value (see --help)"};
        }
        std::string value = takes_value ? args[++i] : std::string(s->implied);
        if (s == nullptr) {
            if (config) {
                return Unexpected{bad(
                    flag, value, "one config file only; --config '" + *config + "' came first")};
            }
            if (value.empty())
                return Unexpected{bad(flag, value, "expected a file name")};
            config = std::move(value);
        } else {
            flags.push_back({s, flag, std::move(value)});
        }
    }

    OptionsBuilder builder;
    builder.options().service_names = services;
    if (config) {
        auto entries = read_config_file(*config);
        if (!entries)
            return Unexpected{entries.error()};
        for (const ConfigEntry& e : *entries) {
            if (Refusal r = builder.apply(*e.setting, e.value, e.where, true)) {
                return Unexpected{*r};
            }
        }
        builder.options().config_file = *config;
    }
    for (const FlagValue& f : flags) {
        if (Refusal r = builder.apply(*f.setting, f.value, f.flag, false))
            return Unexpected{*r};
    }
    return std::move(builder).finish();
}

}  // namespace sluice::control
