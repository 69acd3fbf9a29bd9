// Two workers behind a wire that spreads frames by Toeplitz hash, as a NIC with RSS does
// (support/toeplitz_wire.hpp), and a peer host on the wire's far side running an echo service.
// Each worker's client fleet opens connections to the peer. With the RSS-aware path (the engine
// knows the key and table) every answer comes back to the worker that sent the SYN, so nothing is
// steered; without it (software steering), the same connections all succeed with many answers
// steered between the workers (issue "Control plane", acceptance: active opens).
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "control/control_plane.hpp"
#include "dataplane/services/client_fleet.hpp"
#include "dataplane/services/simple_services.hpp"
#include "dataplane/worker.hpp"
#include "tests/support/eal_environment.hpp"
#include "tests/support/toeplitz_wire.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

constexpr std::uint16_t kWorkers = 2;
constexpr std::uint32_t kConnectionsPerWorker = 1000;
constexpr std::uint16_t kEchoPort = 7;
const wire::Ipv4Address kEngineIp = wire::Ipv4Address::from_octets(10, 9, 0, 2);
const wire::Ipv4Address kPeerIp = wire::Ipv4Address::from_octets(10, 9, 0, 1);
const wire::MacAddress kEngineMac({0x02, 0, 0, 0, 0x09, 0x02});
const wire::MacAddress kPeerMac({0x02, 0, 0, 0, 0x09, 0x01});

struct Outcome {
    std::uint64_t steered = 0;
    std::uint64_t hash_mismatches = 0;
    std::uint64_t passive_opens = 0;
    std::vector<std::uint64_t> active_opens;
    std::vector<std::uint64_t> delivered;
    std::vector<std::string> summaries;
    bool all_succeeded = true;
};

WorkerConfig worker_config(std::uint16_t id, std::uint16_t port, std::uint16_t queue,
                           wire::Ipv4Address ip, wire::MacAddress mac) {
    WorkerConfig wc;
    wc.id = id;
    wc.port_id = port;
    wc.queue_id = queue;
    wc.interface.mac = mac;
    wc.interface.address = {ip, 24};
    wc.neighbors.capacity = 16;
    wc.tcp.max_connections = 8192;
    wc.tcp.send_buffer = 16 * 1024;
    wc.tcp.receive_buffer = 16 * 1024;
    return wc;
}

// Runs both workers' fleets to the end over the wire; `rss_aware`: the engine knows the key.
Outcome run_fleets(bool rss_aware) {
    const flow::RssModel spread(flow::RssModel::symmetric_key(),
                                flow::RssModel::round_robin_table(kWorkers, 128));
    ToeplitzWire wire(kWorkers, spread, /*stamp_hash=*/rss_aware);
    ManualClock clock(1000s);

    auto control = control::ControlPlane::create(kWorkers, {kEngineIp}, 49152, 65535);
    EXPECT_TRUE(control.has_value());
    if (!control)
        return {};
    std::vector<std::unique_ptr<Worker>> workers;
    for (std::uint16_t w = 0; w < kWorkers; ++w) {
        WorkerConfig wc = worker_config(w, wire.engine_port(), w, kEngineIp, kEngineMac);
        wc.device_rss = rss_aware ? &spread : nullptr;
        auto worker = Worker::create(wc, packet_pool(), clock);
        EXPECT_TRUE(worker.has_value());
        if (!worker)
            return {};
        WorkerLinksConfig links;
        links.worker = w;
        links.queue = w;
        links.local_addresses = {kEngineIp};
        links.rss = rss_aware ? &spread : nullptr;
        links.ownership = control.value().get();
        links.pool = packet_pool();
        links.port_capacity = control.value()->ports().pairs_total();
        for (std::uint16_t j = 0; j < kWorkers; ++j) {
            links.to_worker.push_back(control.value()->between(w, j));
            links.from_worker.push_back(control.value()->between(j, w));
        }
        links.to_control = control.value()->to_control(w);
        links.from_control = control.value()->from_control(w);
        WorkerLinks& linked = worker.value()->link(std::move(links));
        for (const auto& b : control.value()->lend_now(w, 4))
            linked.add_block(b.address_index, b.first_port, b.count);
        workers.push_back(std::move(worker.value()));
    }

    auto peer = Worker::create(worker_config(kWorkers, wire.peer_port(), 0, kPeerIp, kPeerMac),
                               packet_pool(), clock);
    EXPECT_TRUE(peer.has_value());
    if (!peer)
        return {};
    services::EchoService echo(peer.value()->tcp().slot_count());
    EXPECT_TRUE(peer.value()->tcp().listen(kEchoPort, &echo).ok());

    std::vector<std::unique_ptr<services::ClientFleet>> fleets;
    for (auto& w : workers) {
        fleets.push_back(std::make_unique<services::ClientFleet>(100, std::uint64_t{100},
                                                                 kConnectionsPerWorker, 32));
        EXPECT_TRUE(fleets.back()->start(w->tcp(), kPeerIp, kEchoPort).ok());
    }

    // One "instant" of the machine: every worker and the peer take a turn, the wire carries,
    // the control plane answers, and 50 us pass.
    const auto all_finished = [&] {
        for (const auto& f : fleets) {
            if (!f->finished())
                return false;
        }
        return true;
    };
    for (int turn = 0; turn < 2'000'000 && !all_finished(); ++turn) {
        for (std::size_t w = 0; w < workers.size(); ++w) {
            workers[w]->poll_once();
            fleets[w]->poll();
        }
        wire.carry();
        peer.value()->poll_once();
        wire.carry();
        control.value()->poll();
        clock.advance(50us);
    }

    Outcome out;
    for (std::size_t w = 0; w < workers.size(); ++w) {
        const WorkerCounters& c = workers[w]->counters();
        out.steered += c.steered_out;
        out.hash_mismatches += c.flow_device_hash_mismatches;
        out.active_opens.push_back(c.tcp_active_opens);
        out.summaries.push_back(fleets[w]->finished() ? fleets[w]->summary() : "not finished");
        out.all_succeeded = out.all_succeeded && fleets[w]->succeeded();
    }
    out.passive_opens = peer.value()->counters().tcp_passive_opens;
    out.delivered = wire.delivered();
    return out;
}

TEST(ToeplitzWire, RssAwarePortsBringEveryAnswerBackToItsWorkerWithNothingSteered) {
    const Outcome out = run_fleets(/*rss_aware=*/true);
    EXPECT_TRUE(out.all_succeeded) << out.summaries[0] << " / " << out.summaries[1];
    EXPECT_EQ(out.passive_opens, kWorkers * kConnectionsPerWorker);
    for (std::size_t w = 0; w < kWorkers; ++w) {
        EXPECT_EQ(out.active_opens[w], kConnectionsPerWorker) << w;
        EXPECT_GT(out.delivered[w], kConnectionsPerWorker) << "the wire fed worker " << w;
    }
    EXPECT_EQ(out.steered, 0u)
        << "every answer hashed to the queue of the worker that sent the SYN";
    EXPECT_EQ(out.hash_mismatches, 0u) << "the flow lookups took the wire's hash as it was";
}

TEST(ToeplitzWire, WithoutKnownRssSoftwareSteeringCarriesTheSameConnections) {
    const Outcome out = run_fleets(/*rss_aware=*/false);
    EXPECT_TRUE(out.all_succeeded) << out.summaries[0] << " / " << out.summaries[1];
    EXPECT_EQ(out.passive_opens, kWorkers * kConnectionsPerWorker);
    // About half of all answers hash to the other worker's queue.
    EXPECT_GT(out.steered, kConnectionsPerWorker / 2);
}

}  // namespace
}  // namespace sluice::test
