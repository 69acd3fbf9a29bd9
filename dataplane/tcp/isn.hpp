// Initial sequence numbers, RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport,
// secretkey), M a timer (of 64 ns here, not 4 us: isn.cpp says why), F a keyed pseudo-random
// function (SipHash-2-4, libsodium's crypto_shorthash), so that sequence numbers cannot be guessed
// off-path and a new incarnation of a 4-tuple starts above the old one.
#pragma once

#include <array>
#include <cstdint>

#include <sluice/four_tuple.hpp>
#include "dataplane/tcp/seq.hpp"
#include "dataplane/timers/clock.hpp"

namespace sluice::tcp {

class IsnGenerator {
  public:
    static constexpr std::size_t kKeyBytes = 16;
    // A fresh random key (from libsodium's CSPRNG).
    IsnGenerator();
    explicit IsnGenerator(const std::array<std::uint8_t, kKeyBytes>& key) : key_(key) {}

    SeqNum generate(const flow::FourTuple& tuple, Nanos now) const;

    // The same keyed function, for other uses that need an unguessable per-tuple value.
    std::uint64_t keyed_hash(const flow::FourTuple& tuple) const;

  private:
    std::array<std::uint8_t, kKeyBytes> key_{};
};

}  // namespace sluice::tcp
