// Ephemeral ports (docs/architecture.md, "Ephemeral ports"): a worker's own pool, which connect()
// draws from without asking anyone, and the control plane's lending of blocks to workers.
//
//   local_pool/take_give_back   tcp::LocalPortPool::take() of any port, then add() of it back, as
//                               a connection's whole life does to the pool (16384 ports held)
//   worker_links/take_give_back/rss:none|queues:N
//                               WorkerLinks::take_port() and give_back_port(), the engine's own
//                               path for connect(): with the device's RSS known (N queues, this
//                               worker owns queue 0), a port is usable only if the Toeplitz hash
//                               of the return 4-tuple picks this worker's queue, so about N ports
//                               are probed (and hashed) per take; without it, the first is taken
//                               No control ring is attached, so a block whose ports are all home
//                               is never given back (a pool at or below its high-water mark, as
//                               under load); the give-back checks are measured, the return is not.
//   ephemeral/lend_block        control::EphemeralPortAllocator::lend(): the next 64-port block
//                               never lent before (4 addresses x 1008 blocks; the allocator is
//                               made afresh, untimed, when it runs out)
//   ephemeral/lend_take_back    lend() and take_back() of one block: a worker's pool topped up
//                               and trimmed again, the blocks going round
//   ephemeral/owner_of/addresses:N  which worker holds (address, port): the steering path's
//                               question for a segment that reached the wrong worker; the address
//                               is the last of N
// Time is per take-and-give-back, per block, per question.
#include <benchmark/benchmark.h>

#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench/micro/micro_benchmarks.hpp"
#include "bench/micro/micro_environment.hpp"
#include "control/ports/ephemeral_ports.hpp"
#include "dataplane/flow/rss_model.hpp"
#include "dataplane/multicore/worker_links.hpp"
#include "dataplane/tcp/local_port_pool.hpp"

namespace sluice::bench {

namespace {

const wire::Ipv4Address kLocal = wire::Ipv4Address::from_octets(10, 0, 0, 2);
const wire::Ipv4Address kServer = wire::Ipv4Address::from_octets(10, 0, 0, 1);
constexpr std::uint16_t kServerPort = 80;
constexpr std::uint16_t kFirstPort = 49152;  // RFC 6335 6: the dynamic range, 16384 ports
constexpr std::uint16_t kPorts = 16384;

void local_pool(benchmark::State& state) {
    tcp::LocalPortPool pool(65536, WorkerLinks::kLowWater);
    for (std::uint32_t p = 0; p < kPorts; ++p)
        pool.add({kLocal.host(), static_cast<std::uint16_t>(kFirstPort + p)});
    const auto any = [](const tcp::LocalEndpoint&) { return true; };
    for (auto _ : state) {
        const auto e = pool.take(any, WorkerLinks::kProbeLimit);
        benchmark::DoNotOptimize(e);
        pool.add(*e);
    }
}

void worker_links(benchmark::State& state, std::uint16_t queues) {
    const flow::RssModel rss(flow::RssModel::symmetric_key(),
                             flow::RssModel::round_robin_table(queues == 0 ? 1 : queues, 128));
    WorkerLinksConfig config;
    config.queue = 0;
    config.local_addresses = {kLocal};
    config.rss = queues == 0 ? nullptr : &rss;
    WorkerCounters counters;
    WorkerLinks links(std::move(config), counters);
    for (std::uint32_t p = 0; p < kPorts; p += control::EphemeralPortAllocator::kBlockSize) {
        links.add_block(0, static_cast<std::uint16_t>(kFirstPort + p),
                        control::EphemeralPortAllocator::kBlockSize);
    }
    for (auto _ : state) {
        const auto e = links.take_port(kServer.host(), kServerPort);
        if (!e) {
            state.SkipWithError("no usable port");
            break;
        }
        links.give_back_port(*e);
    }
}

std::vector<wire::Ipv4Address> local_addresses(std::size_t n) {
    std::vector<wire::Ipv4Address> out;
    for (std::size_t i = 0; i < n; ++i)
        out.push_back(wire::Ipv4Address::from_octets(10, 0, 1, static_cast<std::uint8_t>(i + 1)));
    return out;
}

void lend_block(benchmark::State& state) {
    const auto make = [] {
        return std::make_unique<control::EphemeralPortAllocator>(local_addresses(4), 1024, 65535);
    };
    auto ports = make();
    std::uint16_t worker = 0;
    for (auto _ : state) {
        auto block = ports->lend(worker);
        if (!block) {
            state.PauseTiming();
            ports = make();
            state.ResumeTiming();
            block = ports->lend(worker);
        }
        benchmark::DoNotOptimize(block);
        worker ^= 1;
    }
}

void lend_take_back(benchmark::State& state) {
    control::EphemeralPortAllocator ports(local_addresses(4), 1024, 65535);
    for (auto _ : state) {
        const auto block = ports.lend(0);
        if (!block || !ports.take_back(*block, 0)) {
            state.SkipWithError("a block did not go round");
            break;
        }
    }
}

void owner_of(benchmark::State& state, std::size_t addresses) {
    control::EphemeralPortAllocator ports(local_addresses(addresses), 1024, 65535);
    for (std::uint16_t w = 0; ports.lend(w % 2); ++w) {
    }
    const wire::Ipv4Address asked = local_addresses(addresses).back();
    std::mt19937 rng(1);
    std::vector<std::uint16_t> questions(1024);
    for (auto& p : questions)
        p = static_cast<std::uint16_t>(1024 + rng() % (65536 - 1024));
    std::size_t next = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(ports.owner_of(asked, questions[next]));
        next = (next + 1) % questions.size();
    }
}

}  // namespace

void register_port_allocation_benchmarks() {
    with_min(benchmark::RegisterBenchmark("ports/local_pool/take_give_back", local_pool));
    with_min(benchmark::RegisterBenchmark("ports/worker_links/take_give_back/rss:none",
                                          worker_links, 0));
    for (const std::uint16_t queues : {2, 4}) {
        const std::string name =
            "ports/worker_links/take_give_back/rss_queues:" + std::to_string(queues);
        with_min(benchmark::RegisterBenchmark(name.c_str(), worker_links, queues));
    }
    with_min(benchmark::RegisterBenchmark("ports/ephemeral/lend_block", lend_block));
    with_min(benchmark::RegisterBenchmark("ports/ephemeral/lend_take_back", lend_take_back));
    for (const std::size_t n : {1u, 8u}) {
        const std::string name = "ports/ephemeral/owner_of/addresses:" + std::to_string(n);
        with_min(benchmark::RegisterBenchmark(name.c_str(), owner_of, n));
    }
}

}  // namespace sluice::bench
