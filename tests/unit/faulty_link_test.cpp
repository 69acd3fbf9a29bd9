// The fault-injecting link (drivers/faulty_link.hpp) and its profile text (fault_profile.hpp):
// the same seed gives the same fates; each impairment does what it says, at the rate it says,
// and nothing else; bounds are counted; no frame is leaked.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "drivers/faulty_link.hpp"
#include "tests/support/eal_environment.hpp"
#include "tests/support/ring_port.hpp"

namespace sluice::test {
namespace {

using drivers::FaultCounters;
using drivers::FaultProfile;
using drivers::FaultyLink;
using drivers::parse_fault_profile;
using std::chrono::microseconds;
using std::chrono::milliseconds;

FaultProfile profile(std::string_view text) {
    auto p = parse_fault_profile(text);
    EXPECT_TRUE(p.has_value()) << text << ": " << (p ? "" : p.error());
    return p ? *p : FaultProfile{};
}

// A frame of `length` bytes (at least 8) whose first four carry its number and the rest a pattern
// of it, so that any change shows.
std::vector<std::byte> frame_bytes(std::uint32_t number, std::size_t length = 100) {
    std::vector<std::byte> bytes(length);
    std::memcpy(bytes.data(), &number, sizeof number);
    for (std::size_t i = sizeof number; i < length; ++i)
        bytes[i] = static_cast<std::byte>((number * 131 + i * 7) & 0xff);
    return bytes;
}
rte_mbuf* frame(std::uint32_t number, std::size_t length = 100) {
    return make_mbuf(frame_bytes(number, length));
}
std::uint32_t number_of(const rte_mbuf* m) {
    std::uint32_t n = 0;
    std::memcpy(&n, rte_pktmbuf_mtod(m, const void*), sizeof n);
    return n;
}

struct Delivery {
    std::uint32_t number;
    Nanos at;
    std::vector<std::byte> bytes;
    friend bool operator==(const Delivery&, const Delivery&) = default;
};

class FaultyLinkTest : public ::testing::Test {
  protected:
    void SetUp() override { mbufs_before_ = mbufs_in_use(); }
    void TearDown() override { EXPECT_EQ(mbufs_in_use(), mbufs_before_) << "mbufs leaked"; }

    // Everything due by `now`, freed, as numbers, times and bytes.
    static std::vector<Delivery> drain(FaultyLink& link, Nanos now) {
        std::vector<Delivery> out;
        std::array<rte_mbuf*, 16> frames;
        while (const std::size_t n = link.poll(now, frames)) {
            for (std::size_t i = 0; i < n; ++i) {
                out.push_back({number_of(frames[i]), now, bytes_of(frames[i])});
                rte_pktmbuf_free(frames[i]);
            }
        }
        return out;
    }
    // Offers `count` frames, one every `gap`, and takes each out at its release time; returns
    // what came out, in order.
    static std::vector<Delivery> run(FaultyLink& link, std::uint32_t count, Nanos gap,
                                     std::size_t length = 100) {
        std::vector<Delivery> out;
        Nanos now{0};
        const auto take_until = [&](Nanos until) {
            while (link.next_release() <= until) {
                const Nanos t = link.next_release();
                for (auto& d : drain(link, t))
                    out.push_back(std::move(d));
            }
        };
        for (std::uint32_t n = 0; n < count; ++n) {
            take_until(now);
            link.offer(frame(n, length), now);
            now += gap;
        }
        take_until(FaultyLink::kNever - Nanos{1});
        return out;
    }

    unsigned mbufs_before_ = 0;
};

// --- reproducibility ---

TEST_F(FaultyLinkTest, SameSeedGivesTheSameFates) {
    const std::string text =
        "loss=0.05,burst=0.02:0.3,dup=0.05,reorder=0.1:2ms,corrupt=0.05,delay=1ms,jitter=200us,"
        "rate=10m,queue=16,seed=42";
    FaultyLink first(profile(text));
    FaultyLink second(profile(text));
    const auto a = run(first, 3000, microseconds(50));
    const auto b = run(second, 3000, microseconds(50));
    EXPECT_EQ(a, b);
    // Every kind of fate happened, so the comparison covered them all.
    const FaultCounters& c = first.counters();
    EXPECT_GT(c.dropped_loss, 0u);
    EXPECT_GT(c.dropped_queue, 0u);
    EXPECT_GT(c.duplicated, 0u);
    EXPECT_GT(c.reordered, 0u);
    EXPECT_GT(c.corrupted, 0u);

    FaultyLink other_seed(profile(text.substr(0, text.rfind('=') + 1) + "43"));
    EXPECT_NE(run(other_seed, 3000, microseconds(50)), a);
}

TEST_F(FaultyLinkTest, ATransparentLinkPassesEveryFrameAtOnceAndInOrder) {
    FaultyLink link(FaultProfile{});
    EXPECT_TRUE(link.profile().transparent());
    const auto out = run(link, 1000, Nanos{0});
    ASSERT_EQ(out.size(), 1000u);
    for (std::uint32_t n = 0; n < 1000; ++n) {
        EXPECT_EQ(out[n].number, n);
        EXPECT_EQ(out[n].at, Nanos{0});
        EXPECT_EQ(out[n].bytes, frame_bytes(n));
    }
    EXPECT_EQ(link.counters().delivered, 1000u);
}

// --- loss ---

TEST_F(FaultyLinkTest, LossRateIsWithinStatisticalBounds) {
    constexpr std::uint32_t kFrames = 100'000;
    constexpr double kP = 0.05;
    FaultyLink link(profile("loss=0.05,seed=7"));
    const auto out = run(link, kFrames, microseconds(1));
    const FaultCounters& c = link.counters();
    EXPECT_EQ(c.offered, kFrames);
    EXPECT_EQ(c.dropped_loss + c.delivered, kFrames);
    EXPECT_EQ(out.size(), c.delivered);
    // Binomial: five standard deviations (about 345 frames) either side of 5000.
    const double sigma = std::sqrt(kFrames * kP * (1 - kP));
    EXPECT_NEAR(static_cast<double>(c.dropped_loss), kFrames * kP, 5 * sigma);
    // Independent: a loss says nothing about the next frame (P(lost | previous lost) ~ p).
    std::vector<bool> lost(kFrames, true);
    for (const Delivery& d : out)
        lost[d.number] = false;
    std::uint32_t pairs = 0;
    for (std::uint32_t n = 1; n < kFrames; ++n)
        pairs += lost[n - 1] && lost[n];
    EXPECT_NEAR(static_cast<double>(pairs) / static_cast<double>(c.dropped_loss), kP, 0.02);
}

TEST_F(FaultyLinkTest, GilbertElliottLosesInBurstsOfTheMeanLengthItsChainGives) {
    constexpr std::uint32_t kFrames = 200'000;
    constexpr double kGoodToBad = 0.01;
    constexpr double kBadToGood = 0.25;  // mean stay in the bad state: 4 frames
    FaultyLink link(profile("burst=0.01:0.25,seed=3"));
    const auto out = run(link, kFrames, microseconds(1));
    std::vector<bool> lost(kFrames, true);
    for (const Delivery& d : out)
        lost[d.number] = false;
    std::vector<std::uint32_t> bursts;
    std::uint32_t run_length = 0;
    for (std::uint32_t n = 0; n < kFrames; ++n) {
        if (lost[n]) {
            ++run_length;
        } else if (run_length > 0) {
            bursts.push_back(run_length);
            run_length = 0;
        }
    }
    ASSERT_GT(bursts.size(), 1000u);
    double total = 0;
    for (const std::uint32_t b : bursts)
        total += b;
    const double mean = total / static_cast<double>(bursts.size());
    EXPECT_NEAR(mean, 1 / kBadToGood, 0.1 * (1 / kBadToGood)) << bursts.size() << " bursts";
    // The stationary share of the bad state is the loss rate.
    EXPECT_NEAR(total / kFrames, kGoodToBad / (kGoodToBad + kBadToGood), 0.005);
    // Bursts, not scattered losses: many runs of more than one.
    const auto long_ones =
        std::count_if(bursts.begin(), bursts.end(), [](std::uint32_t b) { return b >= 3; });
    EXPECT_GT(static_cast<double>(long_ones) / static_cast<double>(bursts.size()), 0.4);
    EXPECT_EQ(link.counters().dropped_loss, static_cast<std::uint64_t>(total));
}

// --- duplication ---

TEST_F(FaultyLinkTest, DuplicatesAreIndependentCopies) {
    FaultyLink link(profile("dup=1"));
    rte_mbuf* original = frame(9);
    link.offer(original, Nanos{0});
    std::array<rte_mbuf*, 4> out{};
    ASSERT_EQ(link.poll(Nanos{0}, out), 2u);
    EXPECT_EQ(out[0], original);  // the original first, then its copy
    EXPECT_NE(out[1], original);
    EXPECT_EQ(rte_mbuf_refcnt_read(out[0]), 1);
    EXPECT_EQ(rte_mbuf_refcnt_read(out[1]), 1);
    EXPECT_TRUE(RTE_MBUF_DIRECT(out[1]));
    EXPECT_EQ(bytes_of(out[0]), bytes_of(out[1]));
    // Writing one leaves the other alone.
    *rte_pktmbuf_mtod_offset(out[0], std::byte*, 50) ^= std::byte{0xff};
    EXPECT_EQ(bytes_of(out[1]), frame_bytes(9));
    rte_pktmbuf_free(out[0]);
    rte_pktmbuf_free(out[1]);
    EXPECT_EQ(link.counters().duplicated, 1u);
    EXPECT_EQ(link.counters().delivered, 2u);
}

TEST_F(FaultyLinkTest, DuplicatesAreCorruptedEachOnTheirOwn) {
    FaultyLink link(profile("dup=1,corrupt=0.5,seed=5"));
    const auto out = run(link, 400, microseconds(10));
    ASSERT_EQ(out.size(), 800u);
    // Each frame comes out with its copy right behind it (the same time, offer order).
    int only_one_corrupted = 0;
    for (std::uint32_t k = 0; k < 400; ++k) {
        const std::vector<std::byte> clean = frame_bytes(k);
        only_one_corrupted += (out[2 * k].bytes == clean) != (out[2 * k + 1].bytes == clean);
    }
    // P(exactly one of the two) = 2 * 0.5 * 0.5: about 200 of 400.
    EXPECT_GT(only_one_corrupted, 150);
    EXPECT_LT(only_one_corrupted, 250);
}

TEST_F(FaultyLinkTest, ADuplicateWithNoMbufToSpareIsSkippedAndCounted) {
    rte_mempool* tiny =
        rte_pktmbuf_pool_create("faulty_tiny", 7, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    ASSERT_NE(tiny, nullptr);
    std::vector<rte_mbuf*> all;
    while (rte_mbuf* m = rte_pktmbuf_alloc(tiny))
        all.push_back(m);
    ASSERT_FALSE(all.empty());
    rte_mbuf* last = all.back();
    all.pop_back();
    rte_pktmbuf_append(last, 64);
    {
        FaultyLink link(profile("dup=1"));
        link.offer(last, Nanos{0});
        std::array<rte_mbuf*, 4> out{};
        ASSERT_EQ(link.poll(Nanos{0}, out), 1u);
        EXPECT_EQ(out[0], last);
        rte_pktmbuf_free(out[0]);
        EXPECT_EQ(link.counters().duplicate_skipped, 1u);
        EXPECT_EQ(link.counters().duplicated, 0u);
    }
    for (rte_mbuf* m : all)
        rte_pktmbuf_free(m);
    EXPECT_EQ(rte_mempool_in_use_count(tiny), 0u);
    rte_mempool_free(tiny);
}

// --- corruption ---

unsigned bits_different(const std::vector<std::byte>& a, const std::vector<std::byte>& b) {
    unsigned bits = 0;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        bits += std::popcount(std::to_integer<unsigned>(a[i] ^ b[i]));
    return bits;
}

TEST_F(FaultyLinkTest, CorruptionFlipsOneToThreeBitsAndNothingElse) {
    FaultyLink link(profile("corrupt=1,seed=11"));
    std::map<unsigned, int> flips;  // bits flipped -> frames
    std::vector<int> hits_by_byte(1500, 0);
    for (std::uint32_t n = 0; n < 3000; ++n) {
        const std::size_t length = 60 + (n * 37) % 1441;
        link.offer(frame(n, length), Nanos{0});
        std::array<rte_mbuf*, 2> out{};
        ASSERT_EQ(link.poll(Nanos{0}, out), 1u);
        const auto got = bytes_of(out[0]);
        rte_pktmbuf_free(out[0]);
        const auto sent = frame_bytes(n, length);
        ASSERT_EQ(got.size(), sent.size()) << "the length changed";
        const unsigned bits = bits_different(got, sent);
        ASSERT_GE(bits, 1u);
        ASSERT_LE(bits, 3u);
        ++flips[bits];
        for (std::size_t i = 0; i < got.size(); ++i)
            hits_by_byte[i] += got[i] != sent[i];
    }
    EXPECT_EQ(link.counters().corrupted, 3000u);
    // One, two and three bits alike (a third each, about 1000 +- 100).
    for (unsigned bits = 1; bits <= 3; ++bits)
        EXPECT_NEAR(flips[bits], 1000, 120) << bits << " bits";
    // Anywhere in the frame: the first header bytes and the far end both get hit.
    EXPECT_GT(std::accumulate(hits_by_byte.begin(), hits_by_byte.begin() + 14, 0), 0);
    EXPECT_GT(std::accumulate(hits_by_byte.begin() + 1000, hits_by_byte.end(), 0), 0);
}

TEST_F(FaultyLinkTest, CorruptionNeverTouchesAFrameSomeoneElseHolds) {
    FaultyLink link(profile("corrupt=1"));
    rte_mbuf* shared = frame(4, 200);
    rte_mbuf_refcnt_update(shared, 1);  // a sender's queue keeps it, as a by-reference segment
    link.offer(shared, Nanos{0});
    std::array<rte_mbuf*, 2> out{};
    ASSERT_EQ(link.poll(Nanos{0}, out), 1u);
    EXPECT_NE(out[0], shared);
    EXPECT_EQ(bytes_of(shared), frame_bytes(4, 200)) << "the holder's copy was corrupted";
    const unsigned bits = bits_different(bytes_of(out[0]), frame_bytes(4, 200));
    EXPECT_GE(bits, 1u);
    EXPECT_LE(bits, 3u);
    rte_pktmbuf_free(out[0]);
    EXPECT_EQ(rte_mbuf_refcnt_read(shared), 1);
    rte_pktmbuf_free(shared);
}

TEST_F(FaultyLinkTest, CorruptionReachesEverySegmentOfAChain) {
    FaultyLink link(profile("corrupt=1,seed=2"));
    int second_segment_hit = 0;
    for (std::uint32_t n = 0; n < 200; ++n) {
        rte_mbuf* head = frame(n, 100);
        rte_mbuf* tail = make_mbuf(std::vector<std::byte>(900, std::byte{0x5a}));
        ASSERT_EQ(rte_pktmbuf_chain(head, tail), 0);
        const auto before = bytes_of(head);
        link.offer(head, Nanos{0});
        std::array<rte_mbuf*, 2> out{};
        ASSERT_EQ(link.poll(Nanos{0}, out), 1u);
        const auto after = bytes_of(out[0]);
        const unsigned bits = bits_different(after, before);
        EXPECT_GE(bits, 1u);
        EXPECT_LE(bits, 3u);
        second_segment_hit += !std::equal(after.begin() + 100, after.end(), before.begin() + 100);
        rte_pktmbuf_free(out[0]);
    }
    // 900 of the 1000 bytes are in the second segment.
    EXPECT_GT(second_segment_hit, 150);
}

// --- delay, jitter, reordering ---

TEST_F(FaultyLinkTest, DelayHoldsAFrameUntilItsTime) {
    FaultyLink link(profile("delay=3ms"));
    link.offer(frame(1), milliseconds(10));
    EXPECT_EQ(link.next_release(), milliseconds(13));
    std::array<rte_mbuf*, 2> out{};
    EXPECT_EQ(link.poll(milliseconds(13) - Nanos{1}, out), 0u);
    ASSERT_EQ(link.poll(milliseconds(13), out), 1u);
    EXPECT_EQ(number_of(out[0]), 1u);
    rte_pktmbuf_free(out[0]);
    EXPECT_EQ(link.next_release(), FaultyLink::kNever);
}

TEST_F(FaultyLinkTest, JitterStaysWithinItsBound) {
    FaultyLink link(profile("delay=1ms,jitter=500us,seed=8"));
    Nanos earliest = FaultyLink::kNever, latest{0};
    for (std::uint32_t n = 0; n < 2000; ++n) {
        link.offer(frame(n), Nanos{0});
        earliest = std::min(earliest, link.next_release());
    }
    while (link.held() > 0) {
        latest = link.next_release();
        drain(link, latest);
    }
    EXPECT_GE(earliest, milliseconds(1));
    EXPECT_LT(earliest, milliseconds(1) + microseconds(5));
    EXPECT_LE(latest, milliseconds(1) + microseconds(500));
    EXPECT_GT(latest, milliseconds(1) + microseconds(495));
}

TEST_F(FaultyLinkTest, ReorderingHoldsFramesBackPastLaterOnes) {
    FaultyLink link(profile("reorder=0.1:2ms,delay=1ms,seed=13"));
    const auto out = run(link, 5000, microseconds(100));
    ASSERT_EQ(out.size(), 5000u);
    int overtaken = 0;
    std::uint32_t highest = 0;
    for (const Delivery& d : out) {
        overtaken += d.number < highest;
        highest = std::max(highest, d.number);
    }
    EXPECT_NEAR(static_cast<double>(link.counters().reordered), 500, 5 * std::sqrt(450.0));
    // A frame held back by up to 2 ms, with frames 100 us apart, is overtaken by most of them.
    EXPECT_GT(overtaken, 400);
}

TEST_F(FaultyLinkTest, WithoutReorderingOrJitterOrderIsKept) {
    FaultyLink link(profile("loss=0.1,dup=0.1,delay=2ms,rate=10m,queue=64,seed=21"));
    // Frames of different sizes, offered faster than the rate, and sometimes several at once.
    Nanos now{0};
    std::vector<std::uint32_t> order;
    std::array<rte_mbuf*, 8> out{};
    for (std::uint32_t n = 0; n < 3000; ++n) {
        link.offer(frame(n, 60 + (n * 97) % 1400), now);
        if (n % 3 == 0)
            now += microseconds(300);
        while (const std::size_t k = link.poll(now, out)) {
            for (std::size_t i = 0; i < k; ++i) {
                order.push_back(number_of(out[i]));
                rte_pktmbuf_free(out[i]);
            }
        }
    }
    for (auto& d : drain(link, FaultyLink::kNever - Nanos{1}))
        order.push_back(d.number);
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
    EXPECT_GT(link.counters().duplicated, 0u);
    EXPECT_GT(link.counters().dropped_queue, 0u);
}

// --- the bottleneck ---

TEST_F(FaultyLinkTest, RateLimitSpacesFramesAndTheQueueTailDrops) {
    // 8 Mbit/s: a 1000-byte frame takes 1 ms.
    FaultyLink link(profile("rate=8m,queue=4,delay=10ms"));
    for (std::uint32_t n = 0; n < 10; ++n)
        link.offer(frame(n, 1000), Nanos{0});
    EXPECT_EQ(link.counters().dropped_queue, 6u);  // 4 fit, the rest are tail-dropped
    std::vector<Nanos> times;
    while (link.held() > 0) {
        const Nanos t = link.next_release();
        for (const Delivery& d : drain(link, t)) {
            EXPECT_LT(d.number, 4u);
            times.push_back(t);
        }
    }
    ASSERT_EQ(times.size(), 4u);
    for (int i = 0; i < 4; ++i)
        EXPECT_EQ(times[i], milliseconds(11 + i)) << "frame " << i;

    // Once the first two have left the queue (at 1 and 2 ms), two more fit, behind the others.
    FaultyLink second(profile("rate=8m,queue=4"));
    for (std::uint32_t n = 0; n < 4; ++n)
        second.offer(frame(n, 1000), Nanos{0});
    second.offer(frame(4, 1000), milliseconds(2));
    second.offer(frame(5, 1000), milliseconds(2));
    second.offer(frame(6, 1000), milliseconds(2));
    EXPECT_EQ(second.counters().dropped_queue, 1u);
    const auto out = drain(second, milliseconds(6));
    ASSERT_EQ(out.size(), 6u);
    EXPECT_EQ(out.back().number, 5u);
}

TEST_F(FaultyLinkTest, AFullHoldingAreaDropsAndCounts) {
    FaultyLink link(profile("delay=1ms"), 4);
    for (std::uint32_t n = 0; n < 6; ++n)
        link.offer(frame(n), Nanos{0});
    EXPECT_EQ(link.held(), 4u);
    EXPECT_EQ(link.counters().dropped_overflow, 2u);
    EXPECT_EQ(drain(link, milliseconds(1)).size(), 4u);
}

TEST_F(FaultyLinkTest, DestroyingALinkFreesWhatItHolds) {
    {
        FaultyLink link(profile("delay=1s,dup=0.5"));
        for (std::uint32_t n = 0; n < 100; ++n)
            link.offer(frame(n), Nanos{0});
        EXPECT_GT(link.held(), 100u);
    }
    // TearDown checks that every mbuf came back.
}

// --- the profile's text ---

TEST(FaultProfileText, ParsesEveryKey) {
    auto p = parse_fault_profile(
        "loss=0.05,burst=0.01:0.3,dup=0.01,reorder=0.1:2ms,corrupt=0.001,delay=1ms,"
        "jitter=200us,rate=1g,queue=256,seed=42");
    ASSERT_TRUE(p.has_value()) << p.error();
    EXPECT_EQ(p->loss, 0.05);
    EXPECT_EQ(p->burst.p_good_to_bad, 0.01);
    EXPECT_EQ(p->burst.p_bad_to_good, 0.3);
    EXPECT_EQ(p->burst.loss_in_bad, 1.0);
    EXPECT_EQ(p->burst.loss_in_good, 0.0);
    EXPECT_EQ(p->duplicate, 0.01);
    EXPECT_EQ(p->reorder, 0.1);
    EXPECT_EQ(p->reorder_delay, milliseconds(2));
    EXPECT_EQ(p->corrupt, 0.001);
    EXPECT_EQ(p->delay, milliseconds(1));
    EXPECT_EQ(p->jitter, microseconds(200));
    EXPECT_EQ(p->rate_bps, 1'000'000'000u);
    EXPECT_EQ(p->queue_frames, 256u);
    EXPECT_EQ(p->seed, 42u);
    EXPECT_FALSE(p->transparent());
}

TEST(FaultProfileText, AcceptsPercentagesUnitsAndSuffixes) {
    auto p = parse_fault_profile(
        "loss=5%,burst=1%:30%:0.9:0.001,delay=1.5ms,jitter=250ns,"
        "rate=2.5m,reorder=10%:1s");
    ASSERT_TRUE(p.has_value()) << p.error();
    EXPECT_DOUBLE_EQ(p->loss, 0.05);
    EXPECT_DOUBLE_EQ(p->burst.p_bad_to_good, 0.3);
    EXPECT_EQ(p->burst.loss_in_bad, 0.9);
    EXPECT_EQ(p->burst.loss_in_good, 0.001);
    EXPECT_EQ(p->delay, microseconds(1500));
    EXPECT_EQ(p->jitter, Nanos{250});
    EXPECT_EQ(p->rate_bps, 2'500'000u);
    EXPECT_EQ(p->reorder_delay, std::chrono::seconds(1));
    for (const char* transparent : {"", "none", "seed=9"}) {
        auto t = parse_fault_profile(transparent);
        ASSERT_TRUE(t.has_value()) << transparent;
        EXPECT_TRUE(t->transparent()) << transparent;
    }
}

TEST(FaultProfileText, ToStringReadsBackAsTheSameProfile) {
    for (const char* text :
         {"loss=0.05,burst=0.01:0.3,dup=0.01,reorder=0.1:2ms,corrupt=0.001,delay=1ms,"
          "jitter=200us,rate=1g,queue=256,seed=42",
          "loss=0.1,delay=1500us,rate=12345,queue=3,seed=0", "seed=18446744073709551615",
          "burst=0.001:0.5:0.75:0.0001,jitter=7ns,rate=3k", "reorder=0.3:1s,corrupt=1"}) {
        auto p = parse_fault_profile(text);
        ASSERT_TRUE(p.has_value()) << text << ": " << p.error();
        auto again = parse_fault_profile(p->to_string());
        ASSERT_TRUE(again.has_value()) << p->to_string() << ": " << again.error();
        EXPECT_EQ(*again, *p) << text << " -> " << p->to_string();
    }
    EXPECT_EQ(profile("delay=1ms,loss=0.05,seed=42").to_string(), "loss=0.05,delay=1ms,seed=42");
}

TEST(FaultProfileText, RefusalsNameTheKeyAndWhatIsAllowed) {
    struct Case {
        const char* text;
        const char* must_mention;
    };
    for (const Case& c : std::initializer_list<Case>{
             {"loss=1.5", "loss '1.5': expected a probability from 0 to 1"},
             {"loss=-0.1", "loss '-0.1'"},
             {"loss=abc", "loss 'abc'"},
             {"loss=", "loss '': expected a probability"},
             {"loss=101%", "loss '101%'"},
             {"lose=0.1", "lose '0.1': unknown key; allowed: loss, burst"},
             {"delay=5", "delay '5': expected a duration with a unit"},
             {"delay=5h", "delay '5h'"},
             {"delay=4000s", "at most 3600s"},
             {"jitter=-1ms", "jitter '-1ms'"},
             {"reorder=0.1", "reorder '0.1': expected PROBABILITY:MAX_EXTRA_DELAY"},
             {"reorder=0.1:0ms", "held back by 0 is not reordered"},
             {"burst=0.1", "burst '0.1': expected GOOD_TO_BAD:BAD_TO_GOOD"},
             {"burst=0.1:0", "BAD_TO_GOOD must be above 0"},
             {"burst=0.1:0.2:0.3:0.4:0.5", "burst '0.1:0.2:0.3:0.4:0.5'"},
             {"rate=fast", "rate 'fast': expected bits per second"},
             {"rate=1t", "rate '1t'"},
             {"queue=0", "queue '0': expected a whole number of frames from 1 to 1048576"},
             {"queue=1.5", "queue '1.5'"},
             {"seed=-1", "seed '-1': expected a whole number"},
             {"dup=0.1,dup=0.2", "dup: given twice"},
             {"loss=0.1,,dup=0.1", "'': expected key=value"},
             {"loss", "'loss': expected key=value"},
             {"=0.1", "'=0.1': expected key=value"},
         }) {
        auto p = parse_fault_profile(c.text);
        ASSERT_FALSE(p.has_value()) << c.text << " was accepted";
        EXPECT_NE(p.error().find(c.must_mention), std::string::npos)
            << c.text << " -> " << p.error();
    }
}

}  // namespace
}  // namespace sluice::test
