// The open-addressing flow index on its own: slots handed out and given back, a full table,
// deletion inside probe runs (including runs that wrap around the end of the array), churn checked
// against std::unordered_map, and lookups with a hash the caller computed.
#include "dataplane/flow/open_addressing_index.hpp"
#include "dataplane/flow/rss_model.hpp"

#include <gtest/gtest.h>
#include <rte_thash.h>

#include <array>
#include <cstdint>
#include <random>
#include <set>
#include <unordered_map>
#include <vector>

namespace sluice::flow {
namespace {

constexpr std::uint32_t kNoSlot = OpenAddressingIndex<>::kNoSlot;

FourTuple tuple(std::uint32_t remote_ip, std::uint16_t remote_port) {
    return FourTuple{0xc0a80001, remote_ip, 80, remote_port};  // 192.168.0.1:80 <-> remote
}

struct FourTupleHasher {
    std::size_t operator()(const FourTuple& k) const { return FourTupleCrcHash{}(k); }
};

template <typename Hash = FourTupleCrcHash>
std::unique_ptr<OpenAddressingIndex<Hash>> make_index(std::uint32_t capacity, Hash hash = Hash{}) {
    auto index =
        OpenAddressingIndex<Hash>::create("flow_index_test", capacity, SOCKET_ID_ANY, hash);
    EXPECT_TRUE(index.has_value()) << index.error();
    return index.has_value() ? std::move(index).value() : nullptr;
}

TEST(FlowIndexTest, InsertFindErase) {
    auto index = make_index(16);
    ASSERT_NE(index, nullptr);
    const FourTuple a = tuple(0x0a000001, 40000);
    const FourTuple b = tuple(0x0a000002, 40000);

    EXPECT_EQ(index->find(a), kNoSlot);
    const std::uint32_t slot_a = index->insert(a);
    const std::uint32_t slot_b = index->insert(b);
    ASSERT_NE(slot_a, kNoSlot);
    ASSERT_NE(slot_b, kNoSlot);
    EXPECT_NE(slot_a, slot_b);
    EXPECT_LT(slot_a, index->slots());
    EXPECT_LT(slot_b, index->slots());
    EXPECT_EQ(index->find(a), slot_a);
    EXPECT_EQ(index->find(b), slot_b);
    EXPECT_EQ(index->size(), 2U);

    EXPECT_EQ(index->insert(a), kNoSlot) << "a key already present is refused";
    EXPECT_EQ(index->find(a), slot_a) << "and keeps its slot";

    EXPECT_EQ(index->erase(a), slot_a);
    EXPECT_EQ(index->find(a), kNoSlot);
    EXPECT_EQ(index->find(b), slot_b);
    EXPECT_EQ(index->erase(a), kNoSlot) << "erasing twice";
    EXPECT_EQ(index->size(), 1U);
}

TEST(FlowIndexTest, RejectsImpossibleCapacities) {
    EXPECT_FALSE(OpenAddressingIndex<>::create("flow_index_test", 0).has_value());
    EXPECT_FALSE(
        OpenAddressingIndex<>::create("flow_index_test", OpenAddressingIndex<>::kMaxCapacity + 1)
            .has_value());
}

TEST(FlowIndexTest, FullTableRefusesThenReusesAFreedSlot) {
    constexpr std::uint32_t kCapacity = 100;
    auto index = make_index(kCapacity);
    ASSERT_NE(index, nullptr);
    EXPECT_GE(index->buckets(), 2 * kCapacity) << "load factor <= 0.5 when full";

    std::set<std::uint32_t> slots;
    for (std::uint32_t i = 0; i < kCapacity; ++i) {
        const std::uint32_t slot = index->insert(tuple(0x0a000000 + i, 1024));
        ASSERT_NE(slot, kNoSlot) << i;
        ASSERT_LT(slot, kCapacity);
        slots.insert(slot);
    }
    EXPECT_EQ(slots.size(), kCapacity) << "every slot handed out once";
    EXPECT_EQ(index->size(), kCapacity);
    EXPECT_EQ(index->insert(tuple(0x0b000000, 1024)), kNoSlot) << "full";

    const std::uint32_t freed = index->erase(tuple(0x0a000000 + 42, 1024));
    ASSERT_NE(freed, kNoSlot);
    EXPECT_EQ(index->insert(tuple(0x0b000000, 1024)), freed);
    for (std::uint32_t i = 0; i < kCapacity; ++i) {
        if (i != 42) {
            EXPECT_NE(index->find(tuple(0x0a000000 + i, 1024)), kNoSlot) << i;
        }
    }
}

// The home bucket comes from the hash's high bits: hashes that differ only in the low bits (those
// a NIC's redirection table consumes) share a home, and the top bits spread over the whole array.
TEST(FlowIndexTest, HomeBucketComesFromTheHighBits) {
    auto index = make_index(1000);
    ASSERT_NE(index, nullptr);
    EXPECT_EQ(index->home(0x12345600), index->home(0x123456ff));
    EXPECT_EQ(index->home(0x00000000), 0U);
    EXPECT_EQ(index->home(0xffffffff), index->buckets() - 1);
}

// The hash is the remote port's low four bits, placed where a 16-bucket index (capacity 8)
// reads its home: each key's home bucket is chosen by the test.
struct ChosenHome {
    std::uint32_t operator()(const FourTuple& k) const {
        return static_cast<std::uint32_t>(k.remote_port & 0xf) << 28;
    }
};
FourTuple at_home(std::uint16_t home, std::uint32_t id) {
    return tuple(0x0a000000 + id, home);
}

TEST(FlowIndexTest, EraseKeepsEntriesThatCannotMoveBeforeTheirHome) {
    auto index = make_index<ChosenHome>(8);
    ASSERT_NE(index, nullptr);
    ASSERT_EQ(index->buckets(), 16U);
    // Run: x (home 3) at 3, y (home 3) at 4, z (home 5) at 5, w (home 4) at 6.
    const FourTuple x = at_home(3, 1), y = at_home(3, 2), z = at_home(5, 3), w = at_home(4, 4);
    for (const FourTuple& k : {x, y, z, w})
        ASSERT_NE(index->insert(k), kNoSlot);
    const std::uint32_t slot_y = index->find(y), slot_z = index->find(z), slot_w = index->find(w);

    // y moves back to 3; z must stay at 5 (moving it to 4 would put it before its home), and w
    // moves past it into the hole y left at 4.
    ASSERT_NE(index->erase(x), kNoSlot);
    EXPECT_EQ(index->find(x), kNoSlot);
    EXPECT_EQ(index->find(y), slot_y);
    EXPECT_EQ(index->find(z), slot_z);
    EXPECT_EQ(index->find(w), slot_w);

    ASSERT_NE(index->erase(y), kNoSlot);
    EXPECT_EQ(index->find(z), slot_z);
    EXPECT_EQ(index->find(w), slot_w);
}

TEST(FlowIndexTest, EraseInARunThatWrapsAroundTheEnd) {
    auto index = make_index<ChosenHome>(8);
    ASSERT_NE(index, nullptr);
    // Homes 14, 14, 15, 15, 0, 1 fill buckets 14, 15, 0, 1, 2, 3.
    const std::vector<FourTuple> keys = {at_home(14, 1), at_home(14, 2), at_home(15, 3),
                                         at_home(15, 4), at_home(0, 5),  at_home(1, 6)};
    std::vector<std::uint32_t> slots;
    for (const FourTuple& k : keys) {
        slots.push_back(index->insert(k));
        ASSERT_NE(slots.back(), kNoSlot);
    }
    // Erase from the front of the run, one at a time; the rest stays reachable each time.
    for (std::size_t gone = 0; gone < keys.size(); ++gone) {
        ASSERT_EQ(index->erase(keys[gone]), slots[gone]) << gone;
        for (std::size_t i = 0; i < keys.size(); ++i) {
            EXPECT_EQ(index->find(keys[i]), i <= gone ? kNoSlot : slots[i])
                << "after erasing " << gone << ", key " << i;
        }
    }
    EXPECT_EQ(index->size(), 0U);
}

// CRC, with bits masked off and forced on: fewer distinct homes, so long, colliding runs.
struct DegradedCrc {
    std::uint32_t keep = 0xffffffff;
    std::uint32_t force = 0;
    std::uint32_t operator()(const FourTuple& k) const {
        return (FourTupleCrcHash{}(k)&keep) | force;
    }
};

// Random inserts, erases and lookups over a small key universe (so most operations hit an
// existing key or a recently erased one), checked step by step against std::unordered_map.
void churn_against_a_model(DegradedCrc hash, std::uint32_t capacity, int operations) {
    auto index = make_index<DegradedCrc>(capacity, hash);
    ASSERT_NE(index, nullptr);
    std::mt19937 rng(12345);
    std::vector<FourTuple> universe;
    for (std::uint32_t i = 0; i < 3 * capacity; ++i)
        universe.push_back(
            tuple(0x0a000000 + (rng() & 0xffffff), static_cast<std::uint16_t>(rng())));

    std::unordered_map<FourTuple, std::uint32_t, FourTupleHasher> model;
    std::set<std::uint32_t> slots_in_use;
    for (int op = 0; op < operations; ++op) {
        const FourTuple& k = universe[rng() % universe.size()];
        const auto it = model.find(k);
        switch (rng() % 3) {
            case 0: {
                const std::uint32_t slot = index->insert(k);
                if (it != model.end() || model.size() == capacity) {
                    ASSERT_EQ(slot, kNoSlot) << "op " << op;
                } else {
                    ASSERT_NE(slot, kNoSlot) << "op " << op;
                    ASSERT_LT(slot, capacity);
                    ASSERT_TRUE(slots_in_use.insert(slot).second) << "slot handed out twice";
                    model.emplace(k, slot);
                }
                break;
            }
            case 1: {
                const std::uint32_t slot = index->erase(k);
                if (it == model.end()) {
                    ASSERT_EQ(slot, kNoSlot) << "op " << op;
                } else {
                    ASSERT_EQ(slot, it->second) << "op " << op;
                    slots_in_use.erase(slot);
                    model.erase(it);
                }
                break;
            }
            default:
                ASSERT_EQ(index->find(k), it == model.end() ? kNoSlot : it->second) << "op " << op;
        }
        ASSERT_EQ(index->size(), model.size());
        if (op % 997 == 0) {
            for (const auto& [key, slot] : model)
                ASSERT_EQ(index->find(key), slot) << "op " << op;
        }
    }
    for (const FourTuple& k : universe) {
        const auto it = model.find(k);
        ASSERT_EQ(index->find(k), it == model.end() ? kNoSlot : it->second);
    }
}

TEST(FlowIndexTest, ChurnMatchesUnorderedMap) {
    churn_against_a_model(DegradedCrc{}, 512, 200000);
}

TEST(FlowIndexTest, ChurnMatchesUnorderedMapWithEightHomes) {
    churn_against_a_model(DegradedCrc{.keep = 0xe0000000}, 256, 100000);
}

// Bucket counts are exactly twice the capacity, not a power of two: homes come from a
// multiplication, and runs wrap at an arbitrary end.
TEST(FlowIndexTest, ChurnMatchesUnorderedMapWithACapacityNotAPowerOfTwo) {
    auto index = make_index(600);
    ASSERT_NE(index, nullptr);
    EXPECT_EQ(index->buckets(), 1200u);
    EXPECT_EQ(index->home(0xffffffff), 1199u);
    churn_against_a_model(DegradedCrc{}, 600, 100000);
    churn_against_a_model(DegradedCrc{.keep = 0xf0000000}, 300, 50000);
}

// Every key has the last bucket as its home: one run that wraps around the end of the array.
TEST(FlowIndexTest, ChurnMatchesUnorderedMapWithOneHomeAtTheEnd) {
    churn_against_a_model(DegradedCrc{.keep = 0, .force = 0xffffffff}, 64, 50000);
}

TEST(FlowIndexTest, FindWithAPrecomputedCrc) {
    auto index = make_index(1024);
    ASSERT_NE(index, nullptr);
    std::vector<std::pair<FourTuple, std::uint32_t>> present;
    for (std::uint32_t i = 0; i < 1000; ++i) {
        const FourTuple k = tuple(0x0a000000 + i * 7919, static_cast<std::uint16_t>(1024 + i));
        present.emplace_back(k, index->insert(k));
    }
    for (const auto& [k, slot] : present) {
        // What a pipeline's hashing stage would have computed for the burst.
        const std::uint32_t hash = flow::FourTupleCrcHash{}(k);
        EXPECT_EQ(index->hash(k), hash);
        index->prefetch(hash);
        EXPECT_EQ(index->find_with_hash(k, hash), slot);
    }
    const FourTuple absent = tuple(0x0b000001, 1);
    EXPECT_EQ(index->find_with_hash(absent, flow::FourTupleCrcHash{}(absent)), kNoSlot);
}

// The index built on the Toeplitz hash a NIC computes, so that a packet's RSS hash (here computed
// in software from the packet's fields, as the NIC would) serves as the lookup hash.
struct SoftRss {
    std::uint32_t operator()(const FourTuple& k) const {
        return packet_hash(k.remote_ip, k.local_ip, k.remote_port, k.local_port);
    }
    // A received segment travels remote -> local.
    static std::uint32_t packet_hash(std::uint32_t src, std::uint32_t dst, std::uint16_t sport,
                                     std::uint16_t dport) {
        static const RssModel kModel(
            {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
             0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
             0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa},
            {0});
        return kModel.hash(src, dst, sport, dport);
    }
};

TEST(FlowIndexTest, FindWithTheNicsRssHash) {
    auto index = make_index<SoftRss>(256);
    ASSERT_NE(index, nullptr);
    std::vector<std::pair<FourTuple, std::uint32_t>> present;
    for (std::uint32_t i = 0; i < 200; ++i) {
        const FourTuple k = tuple(0x0a000000 + i, static_cast<std::uint16_t>(30000 + i));
        present.emplace_back(k, index->insert(k));
        ASSERT_NE(present.back().second, kNoSlot);
    }
    for (std::size_t i = 0; i < present.size(); i += 2)
        ASSERT_EQ(index->erase(present[i].first), present[i].second);
    for (std::size_t i = 0; i < present.size(); ++i) {
        const FourTuple& k = present[i].first;
        const std::uint32_t rss =
            SoftRss::packet_hash(k.remote_ip, k.local_ip, k.remote_port, k.local_port);
        EXPECT_EQ(index->find_with_hash(k, rss), i % 2 == 0 ? kNoSlot : present[i].second) << i;
    }
}

}  // namespace
}  // namespace sluice::flow
