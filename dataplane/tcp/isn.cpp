#include "dataplane/tcp/isn.hpp"

#include <cstring>

#include <sodium.h>

namespace sluice::tcp {

IsnGenerator::IsnGenerator() {
    static_assert(kKeyBytes == crypto_shorthash_KEYBYTES);
    if (sodium_init() < 0)
        std::abort();  // no entropy source at all: nothing safe to do
    crypto_shorthash_keygen(key_.data());
}

std::uint64_t IsnGenerator::keyed_hash(const flow::FourTuple& tuple) const {
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, reinterpret_cast<const unsigned char*>(&tuple), sizeof tuple,
                     key_.data());
    std::uint64_t h;
    std::memcpy(&h, out, sizeof h);
    return h;
}

SeqNum IsnGenerator::generate(const flow::FourTuple& tuple, Nanos now) const {
    const auto ticks = static_cast<std::uint32_t>(now.count() / 4000);  // M: 4 microseconds
    return SeqNum(ticks + static_cast<std::uint32_t>(keyed_hash(tuple)));
}

}  // namespace sluice::tcp
