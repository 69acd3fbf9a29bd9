// A small, fast pseudo-random generator for fault injection: xoshiro256** (Blackman and Vigna,
// "Scrambled linear pseudorandom number generators", 2021), seeded through splitmix64 as its
// authors recommend, so that any 64-bit seed, 0 included, gives a good state. Written here rather
// than taken from <random> because the standard leaves its distributions' algorithms to each
// library: the same seed must give the same fates on every build, or a printed case would not
// replay.
#pragma once

#include <array>
#include <cstdint>

namespace sluice::drivers {

// One step of splitmix64 (Steele, Lea and Flood, 2014): also a good 64-bit mixing function.
constexpr std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

class Xoshiro256 {
  public:
    explicit constexpr Xoshiro256(std::uint64_t seed) {
        for (std::uint64_t& word : s_)
            word = splitmix64(seed);
    }

    constexpr std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    // Uniform in [0, 1), from the top 53 bits.
    constexpr double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    // True with probability p. Draws nothing when p is 0, so a knob left at 0 does not change
    // the fates the other knobs give.
    constexpr bool chance(double p) { return p > 0 && uniform() < p; }
    // Uniform in [0, bound) for bound > 0 (Lemire's multiply-shift; the bias, under 2^-32 for
    // the bounds a link uses, does not matter here).
    constexpr std::uint64_t below(std::uint64_t bound) {
        return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
    }

  private:
    static constexpr std::uint64_t rotl(std::uint64_t x, int k) {
        return (x << k) | (x >> (64 - k));
    }
    std::array<std::uint64_t, 4> s_{};
};

}  // namespace sluice::drivers
