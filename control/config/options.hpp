// The engine's own command line (what follows EAL's arguments and "--") and its config file
// (config_file.hpp). Every value is checked here, before anything starts, and a bad one is reported
// with the flag (or FILE:LINE: [section] key), the value and what is allowed.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sluice/addresses.hpp>
#include <sluice/result.hpp>
#include "dataplane/idle_backoff.hpp"
#include "dataplane/net/tcp_checksums.hpp"
#include "dataplane/tcp/congestion/controller.hpp"

namespace sluice::control {

// --serve NAME:PORT: a service the program registered (service_registry.hpp), on a port.
struct ServiceOption {
    std::string service;
    std::uint16_t port;
};

// How arriving segments find their worker: the NIC's RSS where it can (auto), or insist on one.
enum class Steering : std::uint8_t { Auto, Rss, Software };

// Local ports for connections the engine opens, both ends included.
struct PortRange {
    std::uint16_t low;
    std::uint16_t high;
    constexpr std::uint32_t size() const { return std::uint32_t{high} - low + 1; }
};

struct EngineOptions {
    wire::Ipv4Interface address;
    std::optional<wire::Ipv4Address> gateway;
    std::string port;  // see drivers::PortConfig::device
    std::optional<std::uint16_t> vlan_id;
    std::optional<std::uint16_t> mtu;
    std::uint32_t mbufs = 8191;
    std::uint32_t neighbor_capacity = 1024;
    std::chrono::seconds neighbor_timeout{300};
    bool offloads = true;
    // Full unless the port is a link of shared memory whose far end is trusted (tcp_checksums.hpp).
    TcpChecksums tcp_checksums = TcpChecksums::Full;
    // Stop by itself after this long (for scripts); zero runs until SIGINT/SIGTERM.
    std::chrono::seconds duration{0};
    std::string config_file;  // --config, as given; empty when there was none
    // Spin on the queues, or back off into short sleeps when nothing arrives.
    IdleMode idle = IdleMode::Poll;
    // Worker threads; their cores are EAL's -l list after the main core.
    std::uint32_t workers = 1;
    // Further addresses of this host that connections the engine opens may use as their source,
    // for more ephemeral ports than one address has.
    std::vector<wire::Ipv4Address> local_addresses;

    // The names --serve may use: the services the program registered, given to parse_options.
    std::vector<std::string> service_names;
    std::vector<ServiceOption> services;
    std::uint64_t http_body = 1024;
    std::uint64_t source_bytes = 1 << 20;
    // The engine's own client: connect here, send client_bytes, check what comes back, then stop.
    std::optional<wire::Ipv4Address> connect_ip;
    std::uint16_t connect_port = 0;
    std::uint64_t client_bytes = 1 << 20;
    // What each connection must receive back: as many as it sent (an echo, the default), a
    // number of bytes, or anything (--client-expect echo|BYTES|any).
    bool client_expect_echo = true;
    std::optional<std::uint64_t> client_expect;
    std::uint32_t client_connections = 1;  // one after another, --client-parallel at a time
    std::uint32_t client_parallel = 1;

    std::uint32_t max_connections = 65536;
    std::chrono::seconds msl{30};
    bool nodelay = false;
    bool keepalive = false;
    std::uint32_t send_buffer = 256 * 1024;       // bytes per connection
    std::uint32_t receive_buffer = 256 * 1024;    // bytes per connection
    std::chrono::milliseconds initial_rto{1000};  // RFC 6298 2.1
    tcp::congestion::Algorithm congestion = tcp::congestion::kDefaultAlgorithm;
    bool sack = true;                         // RFC 2018
    std::uint32_t out_of_order_segments = 0;  // per connection; 0: a whole receive window
    // All of a worker's connections together; 0: half the worker's share of the mbuf pool.
    std::uint32_t out_of_order_worker_segments = 0;
    PortRange ephemeral_ports{49152, 65535};  // RFC 6335 6
    Steering steering = Steering::Auto;
};

// One setting of EngineOptions, as the command line and the config file both name it. Both go
// through the same `apply`, so they cannot disagree about what a value means or whether it is
// allowed.
struct Setting {
    std::string_view flag;     // "--vlan"
    std::string_view section;  // "engine", for [engine]
    std::string_view key;      // "vlan"
    // A flag that takes no value stands for this value of its key: --nodelay is nagle = no.
    // Empty when the flag takes a value.
    std::string_view implied;
    // Sets the value in `o`. On refusal, returns what is allowed; the caller names the source.
    std::optional<std::string> (*apply)(EngineOptions& o, const std::string& value);
    // Settings that may be given more than once (--serve, --local-addr) add to a list; `clear`
    // empties it, so the command line replaces the file's list rather than adding to it.
    void (*clear)(EngineOptions& o) = nullptr;

    bool repeatable() const { return clear != nullptr; }
};

// Every setting, in the order usage() and the config file's sections list them.
std::span<const Setting> settings();

// "unknown service 'NAME': the services are A, B": for --serve and `sluicectl listen` alike.
std::string unknown_service(const std::string& name, const std::vector<std::string>& known);

// Parses `args` (without the program name). `--config FILE` is read first, wherever it stands;
// the other flags then override the file's values, and a repeated flag (--serve) replaces the
// file's list. `services` are the names --serve and serve = may use (the program's registry).
// Returns the options, or a message for the operator.
Result<EngineOptions, std::string> parse_options(const std::vector<std::string>& args,
                                                 const std::vector<std::string>& services);

// Usage text for `PROGRAM -- --help`: the engine's options (the program adds its services).
std::string usage(std::string_view program);

}  // namespace sluice::control
