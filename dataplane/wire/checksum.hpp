// The Internet checksum (RFC 1071). DPDK's rte_raw_cksum does the summing; the one's-complement sum
// is byte-order independent (RFC 1071 2(B)), so the sum is kept in memory order and stored as raw
// bits, never swapped.
#pragma once

#include <cstdint>
#include <span>

#include <rte_ip.h>

#include <sluice/byte_order.hpp>

namespace sluice::wire {

// The folded one's-complement sum of `bytes`, in memory order.
inline std::uint16_t ones_complement_sum(std::span<const std::byte> bytes) {
    return rte_raw_cksum(bytes.data(), bytes.size());
}

// The checksum field value for `bytes` (with the field itself zeroed).
inline be16 internet_checksum(std::span<const std::byte> bytes) {
    return be16::from_raw(static_cast<std::uint16_t>(~ones_complement_sum(bytes)));
}

// True when `bytes`, checksum field included, sum to all ones (RFC 1071 1(2)).
inline bool checksum_is_valid(std::span<const std::byte> bytes) {
    return ones_complement_sum(bytes) == 0xffff;
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit word of the covered data changing from
// `old_word` to `new_word`. Avoids the -0 pitfall of RFC 1141's formula.
inline be16 checksum_adjust(be16 checksum, be16 old_word, be16 new_word) {
    std::uint32_t sum = static_cast<std::uint16_t>(~checksum.raw());
    sum += static_cast<std::uint16_t>(~old_word.raw());
    sum += new_word.raw();
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return be16::from_raw(static_cast<std::uint16_t>(~sum));
}

}  // namespace sluice::wire
