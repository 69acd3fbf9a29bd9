// Compiled with -mgfni -mavx512{f,bw,dq,vl,vbmi} when the compiler has them
// (SLUICE_BENCH_GFNI=1); see toeplitz_gfni.hpp for why this file stands apart.
#include "bench/micro/toeplitz_gfni.hpp"

#include <rte_thash.h>

namespace sluice::bench::gfni {

#if SLUICE_BENCH_GFNI && defined(RTE_THASH_GFNI_DEFINED)

bool compiled() {
    return true;
}

std::uint32_t hash_each(const std::uint64_t* matrices, const std::uint8_t* tuples,
                        std::size_t count, std::size_t stride, int length) {
    std::uint32_t acc = 0;
    for (std::size_t i = 0; i < count; ++i)
        acc ^= rte_thash_gfni(matrices, tuples + i * stride, length);
    return acc;
}

void hash_bulk(const std::uint64_t* matrices, std::uint8_t* tuples[], std::uint32_t* hashes,
               std::uint32_t count, int length) {
    rte_thash_gfni_bulk(matrices, length, tuples, hashes, count);
}

#else

bool compiled() {
    return false;
}

std::uint32_t hash_each(const std::uint64_t*, const std::uint8_t*, std::size_t, std::size_t, int) {
    return 0;
}

void hash_bulk(const std::uint64_t*, std::uint8_t*[], std::uint32_t* hashes, std::uint32_t count,
               int) {
    for (std::uint32_t i = 0; i < count; ++i)
        hashes[i] = 0;
}

#endif

}  // namespace sluice::bench::gfni
