// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
#include "dataplane/wire/checksum.hpp"

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include <sluice/byte_order.hpp>
#include "tests/support/ring_port.hpp"

namespace sluice::wire {
namespace {

using test::from_hex;

// The sum as the number a reader would write down, independent of the host's byte order.
std::uint16_t sum_in_network_order(std::span<const std::byte> bytes) {
    return be16::from_raw(ones_complement_sum(bytes)).host();
}

std::vector<std::byte> random_bytes(std::mt19937& rng, std::size_t n) {
    std::uniform_int_distribution<int> byte(0, 255);
    std::vector<std::byte> out(n);
    for (std::byte& b : out) {
        b = static_cast<std::byte>(byte(rng));
    }
    return out;
}

TEST(WireChecksum, Rfc1071Example) {
    // RFC 1071 section 3: these eight bytes sum to ddf2 in network order.
    const std::vector<std::byte> bytes = from_hex("00 01 f2 03 f4 f5 f6 f7");
    EXPECT_EQ(sum_in_network_order(bytes), 0xddf2);
    EXPECT_EQ(internet_checksum(bytes).host(), 0x220d);
}

TEST(WireChecksum, SumIsKeptInMemoryOrder) {
    // The raw bits of internet_checksum() are stored as they are, so they must be the complement of
    // the memory-order sum, not of the host-order number.
    const std::vector<std::byte> bytes = from_hex("00 01 f2 03 f4 f5 f6 f7");
    EXPECT_EQ(internet_checksum(bytes).raw(),
              static_cast<std::uint16_t>(~ones_complement_sum(bytes)));
    std::vector<std::byte> stored(2);
    store_be16(stored.data(), internet_checksum(bytes));
    EXPECT_EQ(stored, from_hex("22 0d"));
}

TEST(WireChecksum, EmptyInputSumsToZero) {
    const std::vector<std::byte> none;
    EXPECT_EQ(ones_complement_sum(none), 0);
    EXPECT_EQ(internet_checksum(none).host(), 0xffff);
}

TEST(WireChecksum, CarriesWrapAround) {
    // ffff + 0001 = 1 0000, and the end-around carry folds it to 0001.
    EXPECT_EQ(sum_in_network_order(from_hex("ff ff 00 01")), 0x0001);
    // Many words whose carries need more than one fold: 0xffff * 3 + 0x0003 = 0x3 0000 -> 0x0003.
    EXPECT_EQ(sum_in_network_order(from_hex("ff ff ff ff ff ff 00 03")), 0x0003);
}

TEST(WireChecksum, OddLengthPadsTheLastByteWithZero) {
    // RFC 1071 4.1: a trailing odd byte is the high-order byte of a word whose low byte is zero.
    EXPECT_EQ(sum_in_network_order(from_hex("ab")), 0xab00);
    EXPECT_EQ(sum_in_network_order(from_hex("00 01 f2")), 0xf201);
    EXPECT_EQ(sum_in_network_order(from_hex("00 01 f2 03 f4 f5 f6")), 0xdcfb);

    std::mt19937 rng(1071);
    for (std::size_t n = 1; n < 64; n += 2) {
        const std::vector<std::byte> odd = random_bytes(rng, n);
        std::vector<std::byte> padded = odd;
        padded.push_back(std::byte{0});
        EXPECT_EQ(ones_complement_sum(odd), ones_complement_sum(padded)) << "length " << n;
    }
}

TEST(WireChecksum, UnalignedStartGivesTheSameSum) {
    // Headers behind a VLAN tag, or an odd-length link header, start at any address.
    std::mt19937 rng(7);
    const std::vector<std::byte> data = random_bytes(rng, 41);
    for (std::size_t offset = 1; offset < 4; ++offset) {
        std::vector<std::byte> shifted(offset + data.size());
        std::copy(data.begin(), data.end(), shifted.begin() + static_cast<std::ptrdiff_t>(offset));
        EXPECT_EQ(ones_complement_sum(std::span<const std::byte>(shifted).subspan(offset)),
                  ones_complement_sum(data))
            << "offset " << offset;
    }
}

TEST(WireChecksum, ValidAfterStoringTheChecksumAtAnyEvenOffset) {
    std::mt19937 rng(42);
    for (std::size_t n : {2u, 8u, 13u, 20u, 21u, 60u, 1499u}) {
        std::vector<std::byte> data = random_bytes(rng, n);
        const std::size_t field = (n / 2 - 1) & ~std::size_t{1};
        store_be16(data.data() + field, be16{});
        store_be16(data.data() + field, internet_checksum(data));
        EXPECT_TRUE(checksum_is_valid(data)) << "length " << n;
        data[n - 1] ^= std::byte{0x01};
        EXPECT_FALSE(checksum_is_valid(data)) << "length " << n;
    }
}

TEST(WireChecksum, Rfc1624Example) {
    // RFC 1624 section 4: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285 gives HC' = 0x0000 with eqn. 3
    // (RFC 1141's eqn. 2 would wrongly give 0xffff).
    const be16 adjusted =
        checksum_adjust(be16::from_host(0xdd2f), be16::from_host(0x5555), be16::from_host(0x3285));
    EXPECT_EQ(adjusted.host(), 0x0000);
}

TEST(WireChecksum, AdjustMatchesRecomputingForEveryNewWord) {
    // Data summing to ffff has checksum 0000. Changing a zero word to each of the 65536 values
    // includes the one where ~HC + ~m + m' = ffff + ffff + 0001 = 1 ffff, whose first fold
    // (1 0000) carries again.
    std::vector<std::byte> data = from_hex("ff ff 00 00 00 00");
    const be16 before = internet_checksum(data);
    ASSERT_EQ(before.host(), 0x0000);
    const be16 old_word = load_be16(data.data() + 2);
    for (std::uint32_t value = 0; value <= 0xffff; ++value) {
        const be16 new_word = be16::from_host(static_cast<std::uint16_t>(value));
        store_be16(data.data() + 2, new_word);
        ASSERT_EQ(checksum_adjust(before, old_word, new_word), internet_checksum(data))
            << "new word " << std::hex << value;
    }
}

TEST(WireChecksum, AllZeroDataWithZeroChecksumIsInvalid) {
    // The sum is 0, not the all-ones that a correct checksum field (ffff here) would give.
    EXPECT_FALSE(checksum_is_valid(from_hex("00 00 00 00 00 00 00 00")));
    EXPECT_TRUE(checksum_is_valid(from_hex("00 00 ff ff 00 00 00 00")));
}

TEST(WireChecksum, AdjustMatchesRecomputingForRandomWordChanges) {
    std::mt19937 rng(1624);
    std::uniform_int_distribution<int> length(2, 40);
    std::uniform_int_distribution<int> word(0, 0xffff);
    constexpr std::size_t kChecksumOffset = 10;  // where IPv4 keeps it
    for (int trial = 0; trial < 2000; ++trial) {
        std::vector<std::byte> data = random_bytes(rng, 12 + 2 * std::size_t(length(rng)));
        store_be16(data.data() + kChecksumOffset, be16{});
        be16 checksum = internet_checksum(data);
        // A few successive changes, each adjusting the previous result.
        for (int change = 0; change < 4; ++change) {
            std::size_t at;
            do {
                at = 2 * std::uniform_int_distribution<std::size_t>(0, data.size() / 2 - 1)(rng);
            } while (at == kChecksumOffset);
            const be16 old_word = load_be16(data.data() + at);
            // Sometimes an unchanged word, sometimes all ones or zero: the -0 corner cases.
            const int pick = word(rng);
            const std::uint16_t value = pick % 5 == 0    ? old_word.host()
                                        : pick % 7 == 0  ? 0xffff
                                        : pick % 11 == 0 ? 0x0000
                                                         : static_cast<std::uint16_t>(pick);
            const be16 new_word = be16::from_host(value);
            store_be16(data.data() + at, new_word);
            checksum = checksum_adjust(checksum, old_word, new_word);
            ASSERT_EQ(checksum, internet_checksum(data))
                << "trial " << trial << " change " << change << " at " << at;
        }
        store_be16(data.data() + kChecksumOffset, checksum);
        ASSERT_TRUE(checksum_is_valid(data)) << "trial " << trial;
    }
}

}  // namespace
}  // namespace sluice::wire
