#include "control/config/options.hpp"

#include <charconv>

namespace sluice::control {

namespace {

template <typename Int>
std::optional<Int> parse_int(const std::string& text, Int min, Int max) {
    Int value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value < min || value > max) {
        return std::nullopt;
    }
    return value;
}

std::string bad(const std::string& flag, const std::string& value, const std::string& allowed) {
    return flag + " '" + value + "': " + allowed;
}

}  // namespace

std::string usage() {
    return R"(usage: sluice [EAL options] -- --addr IP/PREFIX [options]

EAL options are DPDK's own (-l CORES, --vdev DEVICE, -a PCI, --no-huge, -m MB, --log-level ...).

Engine options:
  --addr IP/PREFIX        the engine's IPv4 address and prefix length (required), e.g. 10.0.0.2/24
  --gateway IP            next hop for destinations off the --addr subnet
  --port DEVICE           port id, port name, or a vdev to create (net_tap0,iface=sl0);
                          default: the first port EAL found
  --vlan ID               send and accept frames tagged with this 802.1Q VLAN id (1-4094)
  --mtu BYTES             set the port's MTU (the device's own range applies)
  --mbufs N               packet buffers in the pool (1023-4194303, default 8191)
  --arp-entries N         neighbor cache capacity (8-1048576, default 1024)
  --arp-timeout SECONDS   how long an ARP answer is trusted (1-86400, default 300)
  --no-offloads           do checksums in software even where the device could
  --duration SECONDS      stop after this long (default: run until SIGINT or SIGTERM)

TCP services and client:
  --serve KIND:PORT       run a service on a port (repeatable); KIND is echo, discard, source
                          (sends --source-bytes then closes) or http (answers GET/HEAD with
                          --http-body bytes, or N bytes for the path /bytes/N)
  --http-body BYTES       the HTTP response body size (0-17179869184, default 1024)
  --source-bytes BYTES    what the source service sends (default 1048576)
  --connect IP:PORT       connect there, send --client-bytes of the test pattern, half-close, read
                          to the end and check it; stop when done (exit status 0 when all was right)
  --client-bytes BYTES    what the client sends (default 1048576)

TCP settings:
  --max-connections N     connections per worker, TIME-WAIT included (16-16777216, default 65536)
  --msl SECONDS           maximum segment lifetime; TIME-WAIT lasts twice this (1-600, default 30)
  --nodelay               Nagle's algorithm off for every connection
  --keepalive             keepalive probes on for every connection
  -h, --help              this text
)";
}

Result<EngineOptions, std::string> parse_options(const std::vector<std::string>& args) {
    EngineOptions o;
    bool have_address = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& flag = args[i];
        const bool takes_value = flag != "--no-offloads" && flag != "--nodelay" && flag != "--keepalive";
        if (takes_value && i + 1 >= args.size()) {
            if (flag.rfind("--", 0) != 0) {
                return Unexpected{"unexpected argument '" + flag + "' (see --help)"};
            }
            return Unexpected{flag + " needs a value (see --help)"};
        }
        const std::string value = takes_value ? args[++i] : std::string{};
        if (flag == "--addr") {
            const auto a = wire::Ipv4Interface::parse(value);
            if (!a) return Unexpected{bad(flag, value, "expected an IPv4 address and prefix length, e.g. 10.0.0.2/24")};
            if (a->address.is_any() || a->address.is_multicast() ||
                a->address.is_limited_broadcast() || a->address.is_loopback() ||
                a->prefix_length == 0) {
                return Unexpected{bad(flag, value, "must be a unicast, non-loopback address with a prefix length of 1 to 32")};
            }
            o.address = *a;
            have_address = true;
        } else if (flag == "--gateway") {
            const auto g = wire::Ipv4Address::parse(value);
            if (!g) return Unexpected{bad(flag, value, "expected an IPv4 address, e.g. 10.0.0.1")};
            o.gateway = *g;
        } else if (flag == "--port") {
            if (value.empty()) return Unexpected{bad(flag, value, "expected a port id, name or vdev string")};
            o.port = value;
        } else if (flag == "--vlan") {
            const auto v = parse_int<std::uint16_t>(value, 1, 4094);
            if (!v) return Unexpected{bad(flag, value, "expected a VLAN id from 1 to 4094")};
            o.vlan_id = *v;
        } else if (flag == "--mtu") {
            const auto v = parse_int<std::uint16_t>(value, 68, 65535);
            if (!v) return Unexpected{bad(flag, value, "expected a whole number of bytes from 68 to 65535")};
            o.mtu = *v;
        } else if (flag == "--mbufs") {
            const auto v = parse_int<std::uint32_t>(value, 1023, 4194303);
            if (!v) return Unexpected{bad(flag, value, "expected a whole number from 1023 to 4194303")};
            o.mbufs = *v;
        } else if (flag == "--arp-entries") {
            const auto v = parse_int<std::uint32_t>(value, 8, 1048576);
            if (!v) return Unexpected{bad(flag, value, "expected a whole number from 8 to 1048576")};
            o.neighbor_capacity = *v;
        } else if (flag == "--arp-timeout") {
            const auto v = parse_int<std::uint32_t>(value, 1, 86400);
            if (!v) return Unexpected{bad(flag, value, "expected seconds from 1 to 86400")};
            o.neighbor_timeout = std::chrono::seconds(*v);
        } else if (flag == "--duration") {
            const auto v = parse_int<std::uint32_t>(value, 1, 31536000);
            if (!v) return Unexpected{bad(flag, value, "expected seconds from 1 to 31536000")};
            o.duration = std::chrono::seconds(*v);
        } else if (flag == "--no-offloads") {
            o.offloads = false;
        } else if (flag == "--nodelay") {
            o.nodelay = true;
        } else if (flag == "--keepalive") {
            o.keepalive = true;
        } else if (flag == "--serve") {
            const std::size_t colon = value.find(':');
            const std::string kind = value.substr(0, colon);
            const auto port = colon == std::string::npos
                                  ? std::nullopt
                                  : parse_int<std::uint16_t>(value.substr(colon + 1), 1, 65535);
            ServiceKind k;
            if (kind == "echo") {
                k = ServiceKind::Echo;
            } else if (kind == "discard") {
                k = ServiceKind::Discard;
            } else if (kind == "source") {
                k = ServiceKind::Source;
            } else if (kind == "http") {
                k = ServiceKind::Http;
            } else {
                return Unexpected{bad(flag, value, "the service must be echo, discard, source or http, as KIND:PORT (e.g. http:80)")};
            }
            if (!port) return Unexpected{bad(flag, value, "expected KIND:PORT with a port from 1 to 65535, e.g. http:80")};
            for (const ServiceOption& s : o.services) {
                if (s.port == *port) return Unexpected{bad(flag, value, "port " + std::to_string(*port) + " already has a service")};
            }
            o.services.push_back({k, *port});
        } else if (flag == "--http-body") {
            const auto v = parse_int<std::uint64_t>(value, 0, std::uint64_t{1} << 34);
            if (!v) return Unexpected{bad(flag, value, "expected bytes from 0 to 17179869184")};
            o.http_body = *v;
        } else if (flag == "--source-bytes" || flag == "--client-bytes") {
            const auto v = parse_int<std::uint64_t>(value, 0, std::uint64_t{1} << 40);
            if (!v) return Unexpected{bad(flag, value, "expected bytes from 0 to 1099511627776")};
            (flag == "--source-bytes" ? o.source_bytes : o.client_bytes) = *v;
        } else if (flag == "--connect") {
            const std::size_t colon = value.find(':');
            const auto ip = wire::Ipv4Address::parse(value.substr(0, colon));
            const auto port = colon == std::string::npos
                                  ? std::nullopt
                                  : parse_int<std::uint16_t>(value.substr(colon + 1), 1, 65535);
            if (!ip || !port) return Unexpected{bad(flag, value, "expected IP:PORT, e.g. 10.0.0.1:7")};
            o.connect_ip = *ip;
            o.connect_port = *port;
        } else if (flag == "--max-connections") {
            const auto v = parse_int<std::uint32_t>(value, 16, 16777216);
            if (!v) return Unexpected{bad(flag, value, "expected a whole number from 16 to 16777216")};
            o.max_connections = *v;
        } else if (flag == "--msl") {
            const auto v = parse_int<std::uint32_t>(value, 1, 600);
            if (!v) return Unexpected{bad(flag, value, "expected seconds from 1 to 600")};
            o.msl = std::chrono::seconds(*v);
        } else {
            return Unexpected{"unknown option '" + flag + "' (see --help)"};
        }
    }
    if (!have_address) return Unexpected{std::string("--addr is required, e.g. --addr 10.0.0.2/24")};
    if (o.gateway) {
        if (!o.address.on_link(*o.gateway) || *o.gateway == o.address.address) {
            return Unexpected{bad("--gateway", o.gateway->to_string(),
                                  "must be another address on the --addr subnet " +
                                      o.address.to_string())};
        }
    }
    return o;
}

}  // namespace sluice::control
