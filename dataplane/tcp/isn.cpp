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
    // M ticks every 64 ns, not RFC 6528's 4 us (as Linux's secure_tcp_seq): a 4-tuple reused
    // soon after its last connection must still start above where that one ended, or the
    // TIME-WAIT it left refuses the new SYN (RFC 6191) and the client waits a whole RTO. At 4 us a
    // connection that moved 64 bytes each way needs 264 us before its tuple is usable again; at
    // 64 ns, 4 us. The 32-bit clock still takes 275 s to wrap, longer than TIME-WAIT lasts.
    const auto ticks = static_cast<std::uint32_t>(now.count() >> 6);
    return SeqNum(ticks + static_cast<std::uint32_t>(keyed_hash(tuple)));
}

}  // namespace sluice::tcp
