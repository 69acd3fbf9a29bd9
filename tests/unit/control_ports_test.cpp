// The port space across workers: the control plane's block allocator, a worker's pool, the RSS
// model that decides which worker a peer's answers reach, the listen registry, and TCP giving a
// port back only after TIME-WAIT.
#include <gtest/gtest.h>

#include <cerrno>
#include <set>

#include "control/control_plane.hpp"
#include "control/listen_registry.hpp"
#include "control/ports/ephemeral_ports.hpp"
#include "dataplane/flow/rss_model.hpp"
#include "dataplane/multicore/worker_links.hpp"
#include "dataplane/tcp/local_port_pool.hpp"
#include "tests/support/tcp_fixture.hpp"

namespace sluice {
namespace {

using control::EphemeralPortAllocator;
using control::ListenRegistry;
using control::PortBlock;
using namespace std::chrono_literals;

const wire::Ipv4Address kLocal = *wire::Ipv4Address::parse("10.0.0.2");
const wire::Ipv4Address kLocal2 = *wire::Ipv4Address::parse("10.0.0.3");
const wire::Ipv4Address kRemote = *wire::Ipv4Address::parse("10.0.0.1");

TEST(EphemeralPortAllocator, LendsEveryPairOnceAndRecordsTheOwner) {
    EphemeralPortAllocator ports({kLocal, kLocal2}, 50000, 50999);
    EXPECT_EQ(ports.pairs_total(), 2000u);
    std::set<std::pair<std::uint8_t, std::uint16_t>> seen;
    std::uint16_t worker = 0;
    while (auto b = ports.lend(worker)) {
        for (std::uint32_t p = b->first_port; p < std::uint32_t{b->first_port} + b->count; ++p) {
            EXPECT_GE(p, 50000u);
            EXPECT_LE(p, 50999u);
            EXPECT_TRUE(seen.insert({b->address_index, static_cast<std::uint16_t>(p)}).second)
                << "pair lent twice: " << int(b->address_index) << ":" << p;
            const auto address = b->address_index == 0 ? kLocal : kLocal2;
            EXPECT_EQ(ports.owner_of(address, static_cast<std::uint16_t>(p)), worker);
        }
        worker = static_cast<std::uint16_t>(1 - worker);
    }
    EXPECT_EQ(seen.size(), 2000u) << "every pair of both addresses was lent";
    EXPECT_FALSE(ports.lend(0).has_value()) << "exhausted stays exhausted";
    EXPECT_EQ(ports.owner_of(kLocal, 49999), EphemeralPortAllocator::kNoOwner);
    EXPECT_EQ(ports.owner_of(kRemote, 50000), EphemeralPortAllocator::kNoOwner);
}

TEST(EphemeralPortAllocator, BlocksPackIntoOneWord) {
    const PortBlock b{3, 61000, 64};
    const PortBlock back = PortBlock::unpack(b.pack());
    EXPECT_EQ(back.address_index, 3);
    EXPECT_EQ(back.first_port, 61000);
    EXPECT_EQ(back.count, 64);
}

TEST(LocalPortPool, FirstInFirstOutAndSkipsWhatDoesNotSuit) {
    tcp::LocalPortPool pool(8, 2);
    for (std::uint16_t p = 1; p <= 4; ++p)
        ASSERT_TRUE(pool.add({1, p}));
    auto odd = [](const tcp::LocalEndpoint& e) { return e.port % 2 == 1; };
    EXPECT_EQ(pool.take(odd, 8)->port, 1);
    EXPECT_EQ(pool.take(odd, 8)->port, 3) << "2 was passed over, not handed out";
    EXPECT_FALSE(pool.take(odd, 8).has_value()) << "only even ports are left";
    EXPECT_EQ(pool.free_count(), 2u) << "passed-over ports stay in the pool";
    pool.add({1, 1});
    auto any = [](const tcp::LocalEndpoint&) { return true; };
    // Passed-over ports went to the back in the order they were looked at: 4, then 2.
    EXPECT_EQ(pool.take(any, 8)->port, 4);
    EXPECT_EQ(pool.take(any, 8)->port, 2);
    EXPECT_EQ(pool.take(any, 8)->port, 1) << "a port given back is handed out last";
    EXPECT_TRUE(pool.below_low_water());
}

TEST(RssModel, MatchesTheMicrosoftVerificationSuite) {
    // Microsoft's "Verifying the RSS Hash Calculation", IPv4 with TCP ports, first three rows.
    flow::RssModel::Key key = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
                               0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
                               0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
                               0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};
    const flow::RssModel rss(key, {0});
    const auto ip = [](const char* s) { return wire::Ipv4Address::parse(s)->host(); };
    EXPECT_EQ(rss.hash(ip("66.9.149.187"), ip("161.142.100.80"), 2794, 1766), 0x51ccc178u);
    EXPECT_EQ(rss.hash(ip("199.92.111.2"), ip("65.69.140.83"), 14230, 4739), 0xc626b0eau);
    EXPECT_EQ(rss.hash(ip("24.19.198.95"), ip("12.22.207.184"), 12898, 38024), 0x5c2b394au);
}

TEST(RssModel, TheSymmetricKeyHashesBothDirectionsAlike) {
    const flow::RssModel rss(flow::RssModel::symmetric_key(),
                             flow::RssModel::round_robin_table(2, 128));
    for (std::uint16_t port = 1000; port < 1100; ++port) {
        EXPECT_EQ(rss.hash(kLocal.host(), kRemote.host(), port, 80),
                  rss.hash(kRemote.host(), kLocal.host(), 80, port));
    }
}

// The acceptance: for a given key and table, every port handed to worker k hashes back to
// worker k. Both workers drain every pair of the space for several destinations.
TEST(WorkerLinks, EveryPortHandedToAWorkerHashesBackToIt) {
    const flow::RssModel rss(flow::RssModel::symmetric_key(),
                             flow::RssModel::round_robin_table(2, 512));
    struct Destination {
        wire::Ipv4Address ip;
        std::uint16_t port;
    };
    const Destination destinations[] = {{kRemote, 80},
                                        {*wire::Ipv4Address::parse("192.168.7.9"), 443},
                                        {*wire::Ipv4Address::parse("172.16.0.200"), 9000}};
    for (const Destination& d : destinations) {
        EphemeralPortAllocator space({kLocal, kLocal2}, 49152, 65535);
        WorkerCounters counters[2];
        std::vector<std::unique_ptr<WorkerLinks>> links;
        for (std::uint16_t w = 0; w < 2; ++w) {
            WorkerLinksConfig c;
            c.worker = w;
            c.queue = w;
            c.local_addresses = {kLocal, kLocal2};
            c.rss = &rss;
            c.port_capacity = space.pairs_total();
            links.push_back(std::make_unique<WorkerLinks>(c, counters[w]));
        }
        std::uint16_t w = 0;
        while (auto b = space.lend(w)) {
            links[w]->add_block(b->address_index, b->first_port, b->count);
            w = static_cast<std::uint16_t>(1 - w);
        }
        std::size_t handed[2] = {0, 0};
        std::set<std::pair<std::uint32_t, std::uint16_t>> used;
        for (std::uint16_t k = 0; k < 2; ++k) {
            while (auto e = links[k]->take_port(d.ip.host(), d.port)) {
                const flow::FourTuple t{e->ip, d.ip.host(), e->port, d.port};
                ASSERT_EQ(rss.queue_of_return(t), k)
                    << "port " << e->port << " handed to worker " << k << " hashes elsewhere";
                EXPECT_TRUE(used.insert({e->ip, e->port}).second) << "pair handed out twice";
                ++handed[k];
            }
        }
        // Roughly half of each worker's share suits a given destination.
        const std::size_t share = space.pairs_total() / 2;
        for (std::size_t k = 0; k < 2; ++k) {
            EXPECT_GT(handed[k], share / 4) << "worker " << k;
            EXPECT_LT(handed[k], share) << "worker " << k;
        }
    }
}

TEST(ListenRegistry, ConflictsNameTheHolderAndPortZeroPicksARealPort) {
    ListenRegistry r(49152, 65535, /*allow_privileged=*/true);
    ASSERT_EQ(r.add(wire::Ipv4Address{}, 80, "service http").value(), 80);
    auto again = r.add(kLocal, 80, "application");
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().error, EADDRINUSE);
    EXPECT_NE(again.error().message.find("service http"), std::string::npos)
        << again.error().message;
    auto any = r.add(wire::Ipv4Address{}, 0, "application");
    ASSERT_TRUE(any.has_value());
    EXPECT_NE(*any, 0);
    EXPECT_TRUE(*any < 49152 && *any >= 1024) << *any;
    EXPECT_EQ(r.add(wire::Ipv4Address{}, *any, "x").error().error, EADDRINUSE);
    EXPECT_EQ(r.add(wire::Ipv4Address{}, 50000, "x").error().error, EADDRINUSE)
        << "the ephemeral range belongs to connect()";
    EXPECT_TRUE(r.remove(wire::Ipv4Address{}, 80));
    EXPECT_TRUE(r.add(kLocal, 80, "application").has_value()) << "free again after removal";
}

TEST(ListenRegistry, PrivilegedPortsFollowThePolicy) {
    ListenRegistry strict(49152, 65535, /*allow_privileged=*/false);
    EXPECT_EQ(strict.add(wire::Ipv4Address{}, 80, "x").error().error, EACCES);
    EXPECT_TRUE(strict.add(wire::Ipv4Address{}, 8080, "x").has_value());
}

class PortsThroughTcp : public test::TcpFixture {};

// A port comes back to the pool only when its connection has left TIME-WAIT; until then a
// connect() that needs it fails with EADDRNOTAVAIL and is counted.
TEST_F(PortsThroughTcp, APortReturnsOnlyAfterTimeWait) {
    WorkerLinksConfig c;
    c.local_addresses = {kOurIp};
    c.port_capacity = 1;
    WorkerLinks links(c, counters_);
    links.add_block(0, 50000, 1);
    stack().set_port_arrangements(&links);

    auto first = establish_active();
    ASSERT_TRUE(first.valid());
    EXPECT_EQ(first.info()->tuple.local_port, 50000);
    auto second = stack().connect(kPeerIp, 8080, &handler_);
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error(), EADDRNOTAVAIL);
    EXPECT_EQ(counters_.tcp_ephemeral_exhausted, 1u);

    // Active close: FIN, the peer's ACK and FIN, our ACK; TIME-WAIT for 2 MSL.
    ASSERT_TRUE(first.close().ok());
    take();
    inject(test::Seg{.flags = wire::tcp_flag::kFin | wire::tcp_flag::kAck,
                     .seq = peer_seq,
                     .ack = our_seq + 1,
                     .source_port = test::kServerPort,
                     .destination_port = 50000});
    take();
    ASSERT_EQ(stack().connections_in(tcp::TcpState::TimeWait), 1u);
    EXPECT_EQ(links.ports().free_count(), 0u);
    advance(2 * config_.msl - 1ms);
    EXPECT_FALSE(stack().connect(kPeerIp, 8080, &handler_).has_value())
        << "the port is still in TIME-WAIT";
    advance(1ms);
    EXPECT_EQ(links.ports().free_count(), 1u) << "back after TIME-WAIT";
    auto third = stack().connect(kPeerIp, 8080, &handler_);
    ASSERT_TRUE(third.has_value()) << "exhaustion recovers when ports come back";
    EXPECT_EQ(third->info()->tuple.local_port, 50000);
    take();
}

}  // namespace
}  // namespace sluice

namespace sluice::control {
namespace {

TEST(EphemeralPortAllocator, ABlockGivenBackIsUnownedAndLentAgainFirst) {
    EphemeralPortAllocator ports({kLocal}, 50000, 50999);
    const auto first = ports.lend(0);
    const auto second = ports.lend(1);
    ASSERT_TRUE(first && second);
    EXPECT_FALSE(ports.take_back(*first, 1)) << "only its holder gives a block back";
    ASSERT_TRUE(ports.take_back(*first, 0));
    EXPECT_FALSE(ports.take_back(*first, 0)) << "not twice";
    EXPECT_EQ(ports.owner_of(kLocal, first->first_port), EphemeralPortAllocator::kNoOwner);
    EXPECT_EQ(ports.blocks_lent(), 1u);
    const auto again = ports.lend(1);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->first_port, first->first_port);
    EXPECT_EQ(ports.owner_of(kLocal, first->first_port), 1);
}

// A worker's links to a control plane, without a TCP stack: ports are taken and given back as
// connect() and the release after TIME-WAIT would.
class BlockReturn : public ::testing::Test {
  protected:
    void SetUp() override {
        auto cp = ControlPlane::create(1, {kLocal}, 49152, 65535);
        ASSERT_TRUE(cp.has_value()) << cp.error();
        control_ = std::move(cp.value());
        WorkerLinksConfig config;
        config.local_addresses = {kLocal};
        config.to_control = control_->to_control(0);
        config.from_control = control_->from_control(0);
        links_ = std::make_unique<WorkerLinks>(std::move(config), counters_);
        for (const PortBlock& b : control_->lend_now(0, 12))
            links_->add_block(b.address_index, b.first_port, b.count);
    }
    WorkerCounters counters_;
    std::unique_ptr<ControlPlane> control_;
    std::unique_ptr<WorkerLinks> links_;
};

TEST_F(BlockReturn, FullBlocksGoBackWhileThePoolHasPlentyAndNeverABlockInUse) {
    ASSERT_EQ(links_->blocks_held(), 12u);
    // Connections take ports from the first blocks...
    std::vector<tcp::LocalEndpoint> in_use;
    for (int i = 0; i < 70; ++i) {
        auto e = links_->take_port(kRemote.host(), 80);
        ASSERT_TRUE(e.has_value());
        in_use.push_back(*e);
    }
    // ...and give them back after TIME-WAIT, all but one.
    const tcp::LocalEndpoint kept = in_use.back();
    in_use.pop_back();
    for (const auto& e : in_use)
        links_->give_back_port(e);
    control_->poll();

    const std::size_t returned = counters_.ephemeral_blocks_returned;
    EXPECT_GT(returned, 0u) << "12 blocks are far more than a worker with one connection needs";
    EXPECT_EQ(links_->blocks_held(), 12u - returned);
    EXPECT_EQ(control_->ports().blocks_lent(), 12u - returned);
    EXPECT_EQ(control_->port_report().blocks_returned, returned);
    EXPECT_GE(links_->ports().free_count(), 4 * WorkerLinks::kLowWater)
        << "what stays is well above the refill mark";
    // The block of the port still in use stayed; none of the returned ports is in the pool.
    EXPECT_EQ(control_->owner_of(kLocal, kept.port), 0);
    std::size_t unowned_in_pool = 0;
    for (std::size_t i = 0; i < links_->ports().free_count(); ++i) {
        auto e = links_->take_port(kRemote.host(), 80);
        ASSERT_TRUE(e.has_value());
        if (control_->owner_of(kLocal, e->port) != 0)
            ++unowned_in_pool;
        links_->give_back_port(*e);
    }
    EXPECT_EQ(unowned_in_pool, 0u);
}

}  // namespace
}  // namespace sluice::control
