// DPDK's Toeplitz hash on GFNI and AVX-512 (rte_thash_gfni), which DPDK 22.11 ships only as inline
// functions in its headers, real only in a translation unit compiled for those instructions: the
// Debian library itself is built for baseline x86-64, so its rte_thash_gfni_supported() says 0.
// toeplitz_gfni.cpp is that translation unit (meson.build gives it -mgfni -mavx512*); it includes
// nothing but DPDK's C headers, so no C++ inline function compiled for AVX-512 can be picked by the
// linker for the rest of the program, which runs on any x86-64.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::bench::gfni {

// True when toeplitz_gfni.cpp was compiled with GFNI/AVX-512 code generation.
bool compiled();

// The XOR of rte_thash_gfni() over `count` tuples of `length` bytes (network order) laid out
// `stride` bytes apart. `matrices` come from rte_thash_complete_matrix() of the key.
std::uint32_t hash_each(const std::uint64_t* matrices, const std::uint8_t* tuples,
                        std::size_t count, std::size_t stride, int length);

// rte_thash_gfni_bulk(): `count` hashes into `hashes`, two tuples per pass.
void hash_bulk(const std::uint64_t* matrices, std::uint8_t* tuples[], std::uint32_t* hashes,
               std::uint32_t count, int length);

}  // namespace sluice::bench::gfni
