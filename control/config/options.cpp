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
  -h, --help              this text
)";
}

Result<EngineOptions, std::string> parse_options(const std::vector<std::string>& args) {
    EngineOptions o;
    bool have_address = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& flag = args[i];
        const bool takes_value = flag != "--no-offloads";
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
