// sluice-faultbridge: forwards frames between two DPDK ports, each direction through its own
// FaultyLink, on one polling core. With each port a net_af_packet on one end of a veth pair, a
// Linux peer (or the engine) on the far side of each meets the same impairments the engine's tests
// use (docs/faulty-link.md). `sluice-faultbridge [EAL options] -- [options]`.
#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dataplane/timers/clock.hpp"
#include "drivers/eal.hpp"
#include "drivers/faultbridge_options.hpp"
#include "drivers/faulty_link.hpp"
#include "drivers/port.hpp"

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int) {
    g_stop.store(true);
}

using sluice::Nanos;
using sluice::drivers::FaultyLink;

constexpr std::uint16_t kBurst = 32;

struct Direction {
    const char* name;
    std::uint16_t from;
    std::uint16_t to;
    FaultyLink link;
    std::uint64_t tx_refused = 0;  // frames due that the far port would not take

    Direction(const char* n, std::uint16_t f, std::uint16_t t,
              const sluice::drivers::FaultProfile& profile, std::uint32_t capacity)
        : name(n), from(f), to(t), link(profile, capacity) {}

    // One turn: what arrived goes into the link, what the link says is due goes out. The time is
    // read after the receive burst: read before it, a frame that arrived while the thread was
    // descheduled in between would be stamped earlier than it came, and leave early.
    void pump(const sluice::Clock& clock) {
        std::array<rte_mbuf*, kBurst> frames;
        const std::uint16_t n = rte_eth_rx_burst(from, 0, frames.data(), kBurst);
        const Nanos now = clock.now();
        for (std::uint16_t i = 0; i < n; ++i)
            link.offer(frames[i], now);
        std::size_t due;
        do {
            due = link.poll(now, frames);
            const std::uint16_t sent =
                rte_eth_tx_burst(to, 0, frames.data(), static_cast<std::uint16_t>(due));
            for (std::size_t i = sent; i < due; ++i)
                rte_pktmbuf_free(frames[i]);
            tx_refused += due - sent;
        } while (due == kBurst);
    }

    void report(std::FILE* out) const {
        std::fprintf(out, "%s: profile %s\n%s:", name, link.profile().to_string().c_str(), name);
        link.counters().for_each([out](std::string_view counter, std::uint64_t value) {
            std::fprintf(out, " %.*s=%llu", static_cast<int>(counter.size()), counter.data(),
                         static_cast<unsigned long long>(value));
        });
        std::fprintf(out, " tx_refused=%llu held_at_exit=%zu\n",
                     static_cast<unsigned long long>(tx_refused), link.held());
    }
};

// Port B's default: the first port EAL found that is not A.
std::string second_port(std::uint16_t a) {
    std::uint16_t id;
    RTE_ETH_FOREACH_DEV(id) {
        if (id != a)
            return std::to_string(id);
    }
    return {};
}

sluice::Result<std::unique_ptr<sluice::drivers::Port>, std::string> open_port(
    const std::string& device, rte_mempool* pool) {
    sluice::drivers::PortConfig config;
    config.device = device;
    // A bridge passes frames as they are: no checksum work, no hashing.
    config.offloads.checksums = false;
    config.offloads.rss = false;
    auto port = sluice::drivers::Port::open(config, pool);
    if (port) {
        // Frames for other hosts' MACs are the bridge's whole business.
        rte_eth_promiscuous_enable((*port)->id());
    }
    return port;
}

int run(const sluice::drivers::BridgeOptions& options) {
    rte_mempool* pool = rte_pktmbuf_pool_create("faultbridge", options.mbufs, 256, 0,
                                                RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
    if (pool == nullptr) {
        std::fprintf(stderr,
                     "sluice-faultbridge: cannot create a pool of %u mbufs (give EAL more "
                     "memory with -m, or ask for fewer with --mbufs)\n",
                     options.mbufs);
        return 1;
    }
    {
        auto a = open_port(options.port_a, pool);
        if (!a) {
            std::fprintf(stderr, "sluice-faultbridge: port A: %s\n", a.error().c_str());
            rte_mempool_free(pool);
            return 1;
        }
        const std::string b_device =
            options.port_b.empty() ? second_port((*a)->id()) : options.port_b;
        if (b_device.empty()) {
            std::fprintf(stderr,
                         "sluice-faultbridge: port B: EAL found only one port; give it two "
                         "(e.g. two --vdev net_af_packetN,iface=...) or name B with --port-b\n");
            a.value().reset();
            rte_mempool_free(pool);
            return 1;
        }
        auto b = open_port(b_device, pool);
        if (!b) {
            std::fprintf(stderr, "sluice-faultbridge: port B: %s\n", b.error().c_str());
            a.value().reset();
            rte_mempool_free(pool);
            return 1;
        }
        const std::uint16_t ida = (*a)->id();
        const std::uint16_t idb = (*b)->id();
        Direction a_to_b("a->b", ida, idb, options.a_to_b, options.capacity);
        Direction b_to_a("b->a", idb, ida, options.b_to_a, options.capacity);

        std::signal(SIGINT, on_signal);
        std::signal(SIGTERM, on_signal);
        std::printf("sluice-faultbridge: A = port %u (%s), B = port %u (%s)\n", ida,
                    (*a)->name().c_str(), idb, (*b)->name().c_str());
        std::printf("sluice-faultbridge: a->b %s\nsluice-faultbridge: b->a %s\n",
                    options.a_to_b.to_string().c_str(), options.b_to_a.to_string().c_str());
        std::fflush(stdout);

        const sluice::TscClock clock;
        const Nanos end =
            options.duration.count() > 0 ? clock.now() + options.duration : FaultyLink::kNever;
        while (!g_stop.load(std::memory_order_relaxed) && clock.now() < end) {
            a_to_b.pump(clock);
            b_to_a.pump(clock);
        }
        std::printf("sluice-faultbridge: stopping\n");
        a_to_b.report(stdout);
        b_to_a.report(stdout);
        std::fflush(stdout);
        // The links free what they still hold before the ports and the pool go.
    }
    rte_mempool_free(pool);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    int separator = argc;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0) {
            separator = i;
            break;
        }
    }
    // The bridge's own flags are checked first, so a typo is reported before EAL starts.
    const std::vector<std::string> args(argv + std::min(separator + 1, argc), argv + argc);
    auto options = sluice::drivers::parse_bridge_options(args);
    if (!options) {
        std::fprintf(stderr, "sluice-faultbridge: %s\n", options.error().c_str());
        return 2;
    }
    if (options->help) {
        std::fputs(sluice::drivers::bridge_usage().c_str(), stdout);
        return 0;
    }
    int consumed = 0;
    auto eal = sluice::drivers::Eal::init(separator, argv, consumed);
    if (!eal) {
        std::fprintf(stderr, "sluice-faultbridge: %s\n", eal.error().c_str());
        return 1;
    }
    if (consumed + 1 < separator) {
        std::fprintf(stderr,
                     "sluice-faultbridge: unexpected argument '%s' before '--' (the bridge's "
                     "options go after '--'; see 'sluice-faultbridge -- --help')\n",
                     argv[consumed + 1]);
        return 2;
    }
    return run(*options);
}
