// Memory and scale (issue "Benchmarks", item 3): how many established connections one engine
// worker holds, and what each costs. One worker on an in-process net_ring port takes passive opens
// from a HandshakeCrowd until it holds --connections idle established connections, then reports
//   - engine state per connection: what the worker preallocated for its connection limit (TCBs and
//     flow index, TcpStack::state_bytes()) divided by the limit; buffers are mbufs taken only while
//     they hold data, so an idle connection has none;
//   - the process's resident memory before and after, per connection;
//   - how long the opens took.
// A benchmark: it prints figures and writes JSON, and fails only when the engine does (a
// connection not established).
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "bench/scale/handshake_crowd.hpp"
#include "dataplane/worker.hpp"
#include "tests/support/start_eal.hpp"

namespace {

using namespace sluice;

struct Options {
    std::uint32_t connections = 1'000'000;
    std::string json;
    unsigned memory_mb = 0;  // EAL heap; 0: sized from the connection count
};

// Listens and accepts, and leaves every connection idle.
class IdleService final : public api::ListenHandler, public api::ConnectionHandler {
  public:
    api::ConnectionHandler* on_accept(api::Connection) override { return this; }
    void on_connected(api::Connection) override {}
    void on_readable(api::Connection) override {}
    void on_writable(api::Connection) override {}
    void on_peer_closed(api::Connection) override {}
    void on_closed(api::Connection, api::CloseReason) override {}
};

std::size_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::size_t pages_total = 0;
    std::size_t pages_resident = 0;
    statm >> pages_total >> pages_resident;
    return pages_resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

bool parse(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg(argv[i]);
        const auto value = [&](std::string_view name) -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "scale_bench: %.*s needs a value\n",
                             static_cast<int>(name.size()), name.data());
                return nullptr;
            }
            return argv[++i];
        };
        if (arg == "--connections" || arg == "--memory-mb") {
            const char* v = value(arg);
            std::uint64_t n = 0;
            const std::string_view text = v != nullptr ? v : "";
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
            const bool connections = arg == "--connections";
            const std::uint64_t high = connections ? (1U << 30) : 1U << 20;
            if (v == nullptr || ec != std::errc{} || end != text.data() + text.size() || n == 0 ||
                n > high) {
                std::fprintf(
                    stderr, "scale_bench: %s '%s': expected a whole number from 1 to %llu\n",
                    argv[i - 1], v != nullptr ? v : "", static_cast<unsigned long long>(high));
                return false;
            }
            (connections ? o.connections : o.memory_mb) = static_cast<std::uint32_t>(n);
        } else if (arg == "--json") {
            const char* v = value(arg);
            if (v == nullptr)
                return false;
            o.json = v;
        } else {
            std::fprintf(stderr,
                         "scale_bench: unknown argument '%s' (allowed: --connections N, "
                         "--memory-mb N, --json FILE)\n",
                         argv[i]);
            return false;
        }
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse(argc, argv, o))
        return 2;
    // The flow index is the part on the EAL heap: 32 bytes a connection at most, plus room.
    const unsigned memory_mb =
        o.memory_mb != 0 ? o.memory_mb
                         : static_cast<unsigned>(256 + (std::uint64_t{o.connections} * 40 >> 20));
    const std::size_t rss_at_start = resident_bytes();
    if (!sluice::test::start_eal(argv[0], "sluice-scale", memory_mb)) {
        std::fprintf(stderr, "scale_bench: cannot start EAL (run as root; -m %u)\n", memory_mb);
        return 1;
    }
    rte_mempool* pool =
        rte_pktmbuf_pool_create("scale_mbufs", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    std::array<rte_ring*, 2> rings{
        rte_ring_create("scale_rx", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ),
        rte_ring_create("scale_tx", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ)};
    const int port = rte_eth_from_rings("scale", &rings[0], 1, &rings[1], 1, 0);
    rte_eth_conf conf{};
    if (pool == nullptr || rings[0] == nullptr || rings[1] == nullptr || port < 0 ||
        rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
        rte_eth_rx_queue_setup(port, 0, 4096, 0, nullptr, pool) != 0 ||
        rte_eth_tx_queue_setup(port, 0, 4096, 0, nullptr) != 0 || rte_eth_dev_start(port) != 0) {
        std::fprintf(stderr, "scale_bench: cannot set up the packet pool and ring port\n");
        return 1;
    }

    const auto engine_ip = wire::Ipv4Address::from_octets(10, 0, 0, 2);
    const auto gateway_ip = wire::Ipv4Address::from_octets(10, 0, 0, 1);
    const wire::MacAddress engine_mac({0x02, 0, 0, 0, 0, 0x02});
    const wire::MacAddress gateway_mac({0x02, 0, 0, 0, 0, 0x01});
    WorkerConfig wc;
    wc.port_id = static_cast<std::uint16_t>(port);
    wc.interface.mac = engine_mac;
    wc.interface.address = {engine_ip, 24};
    wc.interface.gateway = gateway_ip;
    wc.tcp.max_connections = o.connections;
    wc.tcp.listen_backlog = 4096;
    ManualClock clock(std::chrono::seconds(1));
    const std::size_t rss_before_worker = resident_bytes();
    auto worker = Worker::create(wc, pool, clock);
    if (!worker) {
        std::fprintf(stderr, "scale_bench: %s\n", worker.error().c_str());
        return 1;
    }
    IdleService idle;
    if (!worker.value()->tcp().listen(80, &idle).ok())
        return 1;
    tcp::TcpStack& tcp = worker.value()->tcp();
    const std::size_t rss_with_worker = resident_bytes();

    bench::HandshakeCrowd crowd({engine_mac, engine_ip, 80, gateway_mac, gateway_ip}, pool);
    constexpr std::uint32_t kBurst = 512;
    const auto started = std::chrono::steady_clock::now();
    std::uint32_t opened = 0;
    std::uint32_t next_report = 0;
    std::uint32_t idle_turns = 0;
    while (tcp.connections_in(tcp::TcpState::Established) < o.connections) {
        for (std::uint32_t k = 0; k < kBurst && opened < o.connections; ++k, ++opened) {
            rte_mbuf* syn = crowd.syn(opened);
            if (syn == nullptr || rte_ring_sp_enqueue(rings[0], syn) != 0) {
                rte_pktmbuf_free(syn);
                break;
            }
        }
        bool moved = true;
        while (moved) {
            moved = false;
            while (worker.value()->poll_once() > 0) {
            }
            void* sent = nullptr;
            while (rte_ring_sc_dequeue(rings[1], &sent) == 0) {
                auto* m = static_cast<rte_mbuf*>(sent);
                if (rte_mbuf* reply = crowd.answer(m)) {
                    if (rte_ring_sp_enqueue(rings[0], reply) != 0)
                        rte_pktmbuf_free(reply);
                    moved = true;
                }
                rte_pktmbuf_free(m);
            }
        }
        // Time moves on slowly, so that a SYN-ACK or ACK lost to a full ring is sent again
        // (RFC 6298 timers on the manual clock) instead of leaving a connection half-open.
        clock.advance(std::chrono::milliseconds(1));
        if (opened >= next_report) {
            std::fprintf(stderr, "\rscale_bench: %u of %u established",
                         tcp.connections_in(tcp::TcpState::Established), o.connections);
            next_report += o.connections / 20 + 1;
        }
        if (opened == o.connections) {
            // Everything is sent; give stragglers a minute of (manual) time, then report.
            if (++idle_turns > 60'000)
                break;
        }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::fprintf(stderr, "\n");
    const std::size_t rss_after = resident_bytes();
    const std::uint32_t established = tcp.connections_in(tcp::TcpState::Established);
    const double state_per_connection = static_cast<double>(tcp.state_bytes()) / o.connections;
    const double resident_per_connection =
        static_cast<double>(rss_after - rss_before_worker) / o.connections;

    std::printf(
        "scale_bench: %u idle established connections on one worker (asked for %u; "
        "%u half-open, %llu SYN-ACKs seen)\n",
        established, o.connections, tcp.connections_in(tcp::TcpState::SynReceived),
        static_cast<unsigned long long>(crowd.synacks_seen()));
    std::printf("  %-44s %zu B\n", "sizeof(Tcb)", sizeof(tcp::Tcb));
    std::printf("  %-44s %.1f B\n", "engine state per connection (TCB + index)",
                state_per_connection);
    std::printf("  %-44s 0 B (mbufs from the pool, only while data waits)\n",
                "buffers per idle connection");
    std::printf("  %-44s %.1f B\n", "resident memory per connection (process)",
                resident_per_connection);
    std::printf("  %-44s %.2f GiB\n", "resident memory in all",
                static_cast<double>(rss_after) / (1U << 30));
    std::printf("  %-44s %.1f s (%.0f connections/s, handshakes in-process)\n", "time to open",
                seconds, established / seconds);
    std::printf("  %-44s %.1f MiB, after the worker %.1f MiB, after the opens %.1f MiB\n",
                "resident at start", static_cast<double>(rss_at_start) / (1U << 20),
                static_cast<double>(rss_with_worker) / (1U << 20),
                static_cast<double>(rss_after) / (1U << 20));
    if (!o.json.empty()) {
        std::ofstream out(o.json);
        out << "{\n  \"connections_asked\": " << o.connections
            << ",\n  \"connections_established\": " << established
            << ",\n  \"tcb_bytes\": " << sizeof(tcp::Tcb)
            << ",\n  \"engine_state_bytes_per_connection\": " << state_per_connection
            << ",\n  \"idle_buffer_bytes_per_connection\": 0"
            << ",\n  \"resident_bytes_per_connection\": " << resident_per_connection
            << ",\n  \"resident_bytes_total\": " << rss_after
            << ",\n  \"open_seconds\": " << seconds << "\n}\n";
        if (!out) {
            std::fprintf(stderr, "scale_bench: cannot write %s\n", o.json.c_str());
            return 1;
        }
    }
    worker.value().reset();
    rte_eth_dev_stop(static_cast<std::uint16_t>(port));
    rte_eth_dev_close(static_cast<std::uint16_t>(port));
    rte_eal_cleanup();
    // EAL leaves its runtime directory behind; this process's prefix is its own.
    std::error_code ignored;
    std::filesystem::remove_all("/var/run/dpdk/sluice-scale-" + std::to_string(getpid()), ignored);
    return established == o.connections ? 0 : 1;
}
