// The receive queue on its own (dataplane/tcp/receive_queue.hpp), with mbufs from the test pool:
// segments in any order, overlapping, duplicated, checked against a model of the byte stream;
// the first bytes received kept where held segments overlap; the search tree of held segments
// shallow whatever order the holes are filled in; the worker's count of held segments.
#include <gtest/gtest.h>

#include <rte_mbuf.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "dataplane/tcp/queue_field.hpp"
#include "dataplane/tcp/receive_queue.hpp"
#include "tests/support/eal_environment.hpp"

namespace sluice::test {
namespace {

using tcp::ReceiveQueue;
using tcp::SackRange;
using tcp::SeqNum;

constexpr std::uint32_t kUnlimited = 1u << 20;

class ReceiveQueueTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(tcp::register_queue_field());
        mbufs_before_ = mbufs_in_use();
        held_before_ = ReceiveQueue::held_on_this_thread();
    }
    void TearDown() override {
        queue_.clear();
        EXPECT_EQ(ReceiveQueue::held_on_this_thread(), held_before_);
        EXPECT_EQ(mbufs_in_use(), mbufs_before_) << "an mbuf leaked";
    }

    // A segment of `bytes` starting at stream offset `offset` (sequence number kIsn + offset).
    ReceiveQueue::Outcome put(std::uint32_t offset, const std::vector<std::uint8_t>& bytes,
                              bool fin = false, std::uint32_t max_ooo = kUnlimited) {
        rte_mbuf* m = rte_pktmbuf_alloc(packet_pool());
        EXPECT_NE(m, nullptr);
        char* p = rte_pktmbuf_append(m, static_cast<std::uint16_t>(bytes.size()));
        if (!bytes.empty())
            std::memcpy(p, bytes.data(), bytes.size());
        const auto out = queue_.insert(m, kIsn + offset, rcv_nxt_, max_ooo, fin);
        rcv_nxt_ = out.rcv_nxt;
        return out;
    }
    std::uint32_t delivered() const { return static_cast<std::uint32_t>(rcv_nxt_ - kIsn); }
    std::vector<std::uint8_t> read_all() {
        std::vector<std::uint8_t> out(queue_.readable());
        EXPECT_EQ(queue_.read({reinterpret_cast<std::byte*>(out.data()), out.size()}), out.size());
        return out;
    }

    // Near the top of the sequence space, so that every test crosses the wrap.
    static constexpr SeqNum kIsn = SeqNum(0xffff'f000u);
    ReceiveQueue queue_;
    SeqNum rcv_nxt_ = kIsn;
    unsigned mbufs_before_ = 0;
    std::int64_t held_before_ = 0;
};

std::vector<std::uint8_t> bytes_of(std::uint32_t n, std::uint8_t value) {
    return std::vector<std::uint8_t>(n, value);
}

// Segments of random sizes and boundaries, sent again with other boundaries, duplicated,
// delivered in a random order: the stream comes out whole and in order, and at every step what is
// held, the next byte expected and the SACK blocks agree with a model of which bytes arrived.
TEST_F(ReceiveQueueTest, AnyOrderOfOverlappingSegmentsGivesTheStreamBack) {
    for (std::uint32_t seed = 1; seed <= 40; ++seed) {
        SCOPED_TRACE(seed);
        std::mt19937 rng(seed);
        const std::uint32_t length = 20'000 + rng() % 20'000;
        std::vector<std::uint8_t> stream(length);
        for (auto& b : stream)
            b = static_cast<std::uint8_t>(rng());
        // Three cuts of the stream into segments of 1 to 1500 bytes, all mixed up.
        struct Piece {
            std::uint32_t offset, length;
        };
        std::vector<Piece> pieces;
        for (int cut = 0; cut < 3; ++cut) {
            for (std::uint32_t at = 0; at < length;) {
                const std::uint32_t n = std::min<std::uint32_t>(length - at, 1 + rng() % 1500);
                if (cut == 0 || rng() % 3 == 0)  // the later cuts send only some again
                    pieces.push_back({at, n});
                at += n;
            }
        }
        std::shuffle(pieces.begin(), pieces.end(), rng);

        std::vector<bool> arrived(length, false);
        std::vector<std::uint8_t> out;
        for (const Piece& p : pieces) {
            const std::vector<std::uint8_t> bytes(stream.begin() + p.offset,
                                                  stream.begin() + p.offset + p.length);
            const auto fresh = static_cast<std::uint32_t>(std::count(
                arrived.begin() + p.offset, arrived.begin() + p.offset + p.length, false));
            const std::uint32_t segments_before = queue_.out_of_order_segments();
            const auto outcome = put(p.offset, bytes);
            // A duplicate brought nothing new; a segment held without new bytes replaced held
            // ones it covered (as Linux does), never adding one.
            if (outcome.duplicate) {
                ASSERT_EQ(fresh, 0u);
            }
            if (outcome.held && fresh == 0) {
                ASSERT_LE(queue_.out_of_order_segments(), segments_before);
            }
            std::fill(arrived.begin() + p.offset, arrived.begin() + p.offset + p.length, true);
            const auto expected_next = static_cast<std::uint32_t>(
                std::find(arrived.begin(), arrived.end(), false) - arrived.begin());
            ASSERT_EQ(delivered(), expected_next);
            // Held: the bytes arrived beyond the next expected one, as runs.
            std::vector<std::pair<std::uint32_t, std::uint32_t>> runs;
            std::uint32_t held = 0;
            for (std::uint32_t i = expected_next; i < length; ++i) {
                if (!arrived[i])
                    continue;
                ++held;
                if (!runs.empty() && runs.back().second == i)
                    runs.back().second = i + 1;
                else
                    runs.emplace_back(i, i + 1);
            }
            ASSERT_EQ(queue_.out_of_order_bytes(), held);
            ASSERT_EQ(ReceiveQueue::held_on_this_thread() - held_before_,
                      std::int64_t{queue_.out_of_order_segments()});
            ASSERT_EQ(queue_.has_out_of_order(), held > 0);
            std::array<SackRange, 4> blocks{};
            const std::size_t n = queue_.sack_blocks(blocks, kIsn + p.offset);
            ASSERT_EQ(n, std::min<std::size_t>(runs.size(), 4));
            for (std::size_t i = 0; i < n; ++i) {
                const std::pair<std::uint32_t, std::uint32_t> block{blocks[i].left - kIsn,
                                                                    blocks[i].right - kIsn};
                EXPECT_NE(std::find(runs.begin(), runs.end(), block), runs.end())
                    << "block " << i << " is no run of held bytes";
            }
            if (!runs.empty()) {
                SeqNum start, end;
                ASSERT_TRUE(queue_.first_held(start, end));
                EXPECT_EQ(start - kIsn, runs.front().first);
            }
            // The application reads as it goes, now and then.
            if (rng() % 4 == 0) {
                const auto got = read_all();
                out.insert(out.end(), got.begin(), got.end());
            }
        }
        const auto got = read_all();
        out.insert(out.end(), got.begin(), got.end());
        ASSERT_EQ(out.size(), stream.size());
        EXPECT_TRUE(out == stream) << "the bytes came out changed";
        EXPECT_FALSE(queue_.has_out_of_order());
        queue_.clear();
        rcv_nxt_ = kIsn;
    }
}

// RFC 9293 3.10.7.4 leaves overlaps to the receiver; where a segment overlaps the end of a held
// one, or lies inside held data, Sluice keeps the bytes held first (as Linux does).
TEST_F(ReceiveQueueTest, HeldBytesAreTheFirstReceived) {
    put(100, bytes_of(100, 'a'));  // [100, 200)
    put(150, bytes_of(100, 'b'));  // [150, 250): only [200, 250) is new
    put(50, bytes_of(100, 'c'));   // [50, 150): only [50, 100) is new
    put(120, bytes_of(10, 'd'));   // inside what is held: nothing new
    EXPECT_EQ(queue_.out_of_order_bytes(), 200u);
    put(0, bytes_of(50, 'e'));
    EXPECT_EQ(delivered(), 250u);
    std::vector<std::uint8_t> expected = bytes_of(50, 'e');
    for (auto [n, v] : {std::pair{50, 'c'}, std::pair{100, 'a'}, std::pair{50, 'b'}}) {
        expected.insert(expected.end(), static_cast<std::size_t>(n), static_cast<std::uint8_t>(v));
    }
    EXPECT_TRUE(read_all() == expected);
}

// A segment that covers several held ones whole replaces them, and is cut where the next held
// one begins; a wholly duplicate one is reported so (a D-SACK, RFC 2883).
TEST_F(ReceiveQueueTest, ASegmentCoveringHeldOnesReplacesThem) {
    put(100, bytes_of(10, 'a'));
    put(120, bytes_of(10, 'b'));
    put(140, bytes_of(10, 'c'));
    put(200, bytes_of(10, 'd'));
    ASSERT_EQ(queue_.out_of_order_segments(), 4u);
    put(90, bytes_of(115, 'x'));  // [90, 205): covers a, b, c; cut where d begins
    EXPECT_EQ(queue_.out_of_order_segments(), 2u);
    EXPECT_EQ(queue_.out_of_order_bytes(), 120u);
    const auto dup = put(95, bytes_of(10, 'y'));
    EXPECT_TRUE(dup.dropped && dup.duplicate);
}

// A segment across the seam of two held ones, inside both, brings nothing: a duplicate (RFC
// 2883), and no empty segment is held in front of the second.
TEST_F(ReceiveQueueTest, ASegmentAcrossTheSeamOfTwoHeldOnesIsADuplicate) {
    put(100, bytes_of(10, 'a'));
    put(110, bytes_of(10, 'b'));
    const auto out = put(105, bytes_of(10, 'c'));
    EXPECT_TRUE(out.dropped && out.duplicate);
    EXPECT_EQ(queue_.out_of_order_segments(), 2u);
    EXPECT_EQ(queue_.out_of_order_bytes(), 20u);
}

// A FIN held out of order takes effect when the data before it arrives; nothing after it is
// taken.
TEST_F(ReceiveQueueTest, AHeldFinIsReachedWhenTheGapFills) {
    EXPECT_TRUE(put(100, bytes_of(50, 'a'), /*fin=*/true).held);
    EXPECT_TRUE(put(150, bytes_of(10, 'z')).dropped) << "beyond the FIN";
    const auto out = put(0, bytes_of(100, 'b'));
    EXPECT_TRUE(out.fin_reached);
    EXPECT_EQ(delivered(), 150u);
    EXPECT_FALSE(queue_.has_out_of_order());
}

// The bound on segments held is checked before anything else, so a refused segment costs
// nothing already held.
TEST_F(ReceiveQueueTest, TheBoundRefusesNewSegmentsOnly) {
    for (std::uint32_t i = 0; i < 8; ++i)
        EXPECT_TRUE(put(100 + 20 * i, bytes_of(10, 'a'), false, 8).held);
    const auto refused = put(50, bytes_of(10, 'b'), false, 8);
    EXPECT_TRUE(refused.dropped);
    EXPECT_FALSE(refused.duplicate);
    EXPECT_EQ(queue_.out_of_order_segments(), 8u);
    EXPECT_EQ(queue_.out_of_order_bytes(), 80u);
}

// The order worst for a sorted list: the highest segment first, then every hole filled from
// the front up, each insert landing just before the last one held (a list walks past all the
// others every time). The tree stays as shallow as a random one, O(log n).
TEST_F(ReceiveQueueTest, HolesFilledInAnyOrderKeepTheTreeShallow) {
    constexpr std::uint32_t kSegments = 3000;  // within the test pool, with room to spare
    const auto log2n = static_cast<std::uint32_t>(std::ceil(std::log2(kSegments)));
    put(100 + 20 * kSegments, bytes_of(10, 'z'));
    for (std::uint32_t i = 0; i < kSegments - 1; ++i)
        ASSERT_TRUE(put(100 + 20 * i, bytes_of(10, 'a')).held);
    EXPECT_EQ(queue_.out_of_order_segments(), kSegments);
    EXPECT_LE(queue_.out_of_order_depth(), 4 * log2n) << "a random treap is about 3 log2 n deep";

    // Filled from the back down, and alternately from both ends: the same.
    queue_.clear();
    for (std::uint32_t i = kSegments; i > 0; --i)
        put(100 + 20 * i, bytes_of(10, 'b'));
    EXPECT_LE(queue_.out_of_order_depth(), 4 * log2n);
    queue_.clear();
    for (std::uint32_t i = 0; i < kSegments / 2; ++i) {
        put(100 + 20 * i, bytes_of(10, 'c'));
        put(100 + 20 * (kSegments - i), bytes_of(10, 'c'));
    }
    EXPECT_LE(queue_.out_of_order_depth(), 4 * log2n);
    EXPECT_EQ(ReceiveQueue::held_on_this_thread() - held_before_, std::int64_t{kSegments});
}

}  // namespace
}  // namespace sluice::test
