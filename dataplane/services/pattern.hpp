// The bytes every built-in service sends: a 64-character alphabet repeated, so that any receiver
// can check a stream byte-exactly from its offset alone (byte i is kAlphabet[i % 64]).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace sluice::services {

inline constexpr std::string_view kPatternAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static_assert(kPatternAlphabet.size() == 64);

// A 64 KiB block of the pattern, starting at offset 0; a slice at (offset % 64) continues any
// stream.
inline std::span<const std::byte> pattern_block() {
    static const auto block = [] {
        std::array<std::byte, 65536> b{};
        for (std::size_t i = 0; i < b.size(); ++i)
            b[i] = std::byte(kPatternAlphabet[i % 64]);
        return b;
    }();
    return block;
}

// Up to `max` pattern bytes as they stand at stream offset `offset`.
inline std::span<const std::byte> pattern_at(std::uint64_t offset, std::size_t max) {
    const std::size_t start = offset % 64;
    return pattern_block().subspan(start, std::min(max, pattern_block().size() - start));
}

// True when `bytes` are what the pattern has at `offset`.
inline bool matches_pattern(std::span<const std::byte> bytes, std::uint64_t offset) {
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (bytes[i] != std::byte(kPatternAlphabet[(offset + i) % 64]))
            return false;
    }
    return true;
}

}  // namespace sluice::services
