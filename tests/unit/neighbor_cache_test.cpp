// The ARP cache on its own: holding packets, retries, giving up, expiry, bounds.
#include "dataplane/net/neighbor_cache.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "tests/support/eal_environment.hpp"
#include "tests/support/ring_port.hpp"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using wire::Ipv4Address;
using wire::MacAddress;

const Ipv4Address kPeer = Ipv4Address::from_octets(10, 0, 0, 1);
const MacAddress kPeerMac({0x02, 0, 0, 0, 0, 0x01});

// Records what the cache asks for; frees the packets it is handed, as the real owner would.
struct RecordingEvents final : NeighborEvents {
    std::vector<Ipv4Address> requests;
    std::vector<rte_mbuf*> transmitted;
    std::vector<MacAddress> transmitted_to;
    int dropped = 0;

    void send_arp_request(Ipv4Address target) override { requests.push_back(target); }
    void transmit_held(rte_mbuf* packet, const MacAddress& next_hop) override {
        transmitted.push_back(packet);
        transmitted_to.push_back(next_hop);
    }
    void drop_unresolved(rte_mbuf* packet) override {
        ++dropped;
        rte_pktmbuf_free(packet);
    }
    void release() {
        for (rte_mbuf* m : transmitted)
            rte_pktmbuf_free(m);
        transmitted.clear();
    }
    ~RecordingEvents() override { release(); }
};

class NeighborCacheTest : public ::testing::Test {
  protected:
    void SetUp() override {
        mbufs_before_ = test::mbufs_in_use();
        config_.capacity = 64;
        make_cache();
    }
    void TearDown() override {
        cache_.reset();
        events_.release();
        EXPECT_EQ(test::mbufs_in_use(), mbufs_before_) << "mbufs leaked";
    }
    void make_cache() {
        static int n = 0;
        auto c = NeighborCache::create("nbr_test" + std::to_string(n++), config_, events_);
        ASSERT_TRUE(c.has_value()) << c.error();
        cache_ = std::move(c.value());
    }
    rte_mbuf* packet(std::uint8_t tag) {
        const std::byte b{tag};
        return test::make_mbuf({&b, 1});
    }

    NeighborConfig config_;
    RecordingEvents events_;
    std::unique_ptr<NeighborCache> cache_;
    unsigned mbufs_before_ = 0;
};

TEST_F(NeighborCacheTest, UnknownAddressHasNoLinkAddress) {
    EXPECT_EQ(cache_->lookup(kPeer, 0s), nullptr);
}

TEST_F(NeighborCacheTest, HeldPacketsLeaveInOrderWhenTheAnswerArrives) {
    EXPECT_EQ(cache_->hold(kPeer, packet(1), 0s), NeighborCache::HoldOutcome::QueuedNewEntry);
    EXPECT_EQ(cache_->hold(kPeer, packet(2), 0s), NeighborCache::HoldOutcome::Queued);
    EXPECT_EQ(cache_->lookup(kPeer, 0s), nullptr) << "incomplete entries must not resolve";

    cache_->learn(kPeer, kPeerMac, 10ms, /*create=*/false);

    ASSERT_EQ(events_.transmitted.size(), 2u);
    EXPECT_EQ(*rte_pktmbuf_mtod(events_.transmitted[0], std::uint8_t*), 1);
    EXPECT_EQ(*rte_pktmbuf_mtod(events_.transmitted[1], std::uint8_t*), 2);
    EXPECT_EQ(events_.transmitted_to[0], kPeerMac);
    ASSERT_NE(cache_->lookup(kPeer, 20ms), nullptr);
    EXPECT_EQ(*cache_->lookup(kPeer, 20ms), kPeerMac);
    EXPECT_EQ(cache_->counts().resolved, 1u);
}

TEST_F(NeighborCacheTest, RetriesOncePerIntervalThenGivesUpAndDropsWhatWaited) {
    ASSERT_EQ(cache_->hold(kPeer, packet(1), 0s), NeighborCache::HoldOutcome::QueuedNewEntry);
    // The caller sent the first request; the cache sends the rest, one per retry interval.
    cache_->poll(999ms);
    EXPECT_TRUE(events_.requests.empty());
    cache_->poll(1s);
    ASSERT_EQ(events_.requests.size(), 1u);
    EXPECT_EQ(events_.requests[0], kPeer);
    cache_->poll(1500ms);
    EXPECT_EQ(events_.requests.size(), 1u) << "RFC 1122 2.3.2.1: at most one request a second";
    cache_->poll(2s);
    EXPECT_EQ(events_.requests.size(), 2u);
    EXPECT_EQ(events_.dropped, 0);
    cache_->poll(3s);  // three requests sent: give up
    EXPECT_EQ(events_.requests.size(), 2u);
    EXPECT_EQ(events_.dropped, 1);
    EXPECT_EQ(cache_->size(), 0u);
}

TEST_F(NeighborCacheTest, HeldPacketsShareOneBoundedPoolAndLeaveABurstPerTurn) {
    // A burst of connections to one next hop: far more than a few per address must wait, and
    // none may be lost; only the pool as a whole is bounded.
    config_.held_capacity = 100;
    cache_.reset();
    make_cache();
    const Ipv4Address other = Ipv4Address::from_octets(10, 0, 0, 9);
    for (int i = 0; i < 60; ++i)
        ASSERT_NE(cache_->hold(kPeer, packet(static_cast<std::uint8_t>(i)), 0s),
                  NeighborCache::HoldOutcome::QueueFull);
    for (int i = 0; i < 40; ++i)
        ASSERT_NE(cache_->hold(other, packet(200), 0s), NeighborCache::HoldOutcome::QueueFull);
    EXPECT_EQ(cache_->held(), 100U);
    rte_mbuf* extra = packet(9);
    EXPECT_EQ(cache_->hold(kPeer, extra, 0s), NeighborCache::HoldOutcome::QueueFull);
    rte_pktmbuf_free(extra);  // still the caller's on QueueFull

    cache_->learn(kPeer, kPeerMac, 10ms, /*create=*/false);
    EXPECT_EQ(events_.transmitted.size(), NeighborCache::kReleasedPerTurn);
    for (std::size_t turns = 1; events_.transmitted.size() < 60; ++turns) {
        cache_->release_resolved();
        ASSERT_LE(events_.transmitted.size(), (turns + 1) * NeighborCache::kReleasedPerTurn);
        ASSERT_LT(turns, 60U);
    }
    ASSERT_EQ(events_.transmitted.size(), 60U);
    for (std::size_t i = 0; i < 60; ++i) {
        EXPECT_EQ(*rte_pktmbuf_mtod(events_.transmitted[i], std::uint8_t*), i) << "in order";
        EXPECT_EQ(events_.transmitted_to[i], kPeerMac);
    }
    // What left made room; the other address still waits.
    EXPECT_EQ(cache_->held(), 40U);
    EXPECT_EQ(cache_->hold(Ipv4Address::from_octets(10, 0, 0, 10), packet(7), 20ms),
              NeighborCache::HoldOutcome::QueuedNewEntry);
}

TEST_F(NeighborCacheTest, TableIsBoundedAndReportsFull) {
    std::size_t held = 0;
    bool full = false;
    for (std::uint32_t i = 1; i <= 4 * config_.capacity && !full; ++i) {
        rte_mbuf* m = packet(1);
        const auto outcome = cache_->hold(Ipv4Address::from_host(0x0a000000 + i), m, 0s);
        if (outcome == NeighborCache::HoldOutcome::TableFull) {
            full = true;
            rte_pktmbuf_free(m);
        } else {
            ++held;
        }
    }
    EXPECT_TRUE(full);
    // Cuckoo hashing may refuse a little before the nominal capacity, never far from it.
    EXPECT_GE(held, config_.capacity * 9 / 10);
    EXPECT_EQ(cache_->size(), held);
}

TEST_F(NeighborCacheTest, AnswersExpireAfterTheReachableTime) {
    cache_->learn(kPeer, kPeerMac, 0s, /*create=*/true);
    EXPECT_NE(cache_->lookup(kPeer, 299s), nullptr);
    EXPECT_EQ(cache_->lookup(kPeer, 300s), nullptr);
    cache_->poll(300s);
    EXPECT_EQ(cache_->size(), 0u);
    EXPECT_EQ(cache_->counts().expired, 1u);
}

TEST_F(NeighborCacheTest, StaleAnswerIsAskedAgainOnNextUse) {
    cache_->learn(kPeer, kPeerMac, 0s, /*create=*/true);
    EXPECT_EQ(cache_->hold(kPeer, packet(1), 301s), NeighborCache::HoldOutcome::QueuedNewEntry);
}

TEST_F(NeighborCacheTest, MergeUpdatesOnlyKnownAddressesUnlessCreating) {
    cache_->learn(kPeer, kPeerMac, 0s, /*create=*/false);
    EXPECT_EQ(cache_->lookup(kPeer, 0s), nullptr) << "RFC 826: no new entry unless for us";
    cache_->learn(kPeer, kPeerMac, 0s, /*create=*/true);
    const MacAddress moved({0x02, 0, 0, 0, 0, 0x77});
    cache_->learn(kPeer, moved, 1s, /*create=*/false);
    ASSERT_NE(cache_->lookup(kPeer, 1s), nullptr);
    EXPECT_EQ(*cache_->lookup(kPeer, 1s), moved);
}

TEST_F(NeighborCacheTest, DestructionReleasesHeldPackets) {
    ASSERT_EQ(cache_->hold(kPeer, packet(1), 0s), NeighborCache::HoldOutcome::QueuedNewEntry);
    cache_.reset();
    EXPECT_EQ(events_.dropped, 1);
}

TEST(NeighborCacheConfig, RejectsTinyCapacity) {
    RecordingEvents events;
    NeighborConfig config;
    config.capacity = 2;
    auto c = NeighborCache::create("nbr_tiny", config, events);
    ASSERT_FALSE(c.has_value());
    EXPECT_NE(c.error().find("capacity"), std::string::npos);
}

}  // namespace
}  // namespace sluice
