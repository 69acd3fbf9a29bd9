// The index of a connection in a worker's side table: state that only a few connections need at a
// time and the 248-byte TCB has no room for (recovery_undo.hpp, pacer.hpp) lives in a table of
// fixed size indexed by the TCB's address, where a newcomer that claims a slot another holds
// takes it over.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::tcp {

inline std::size_t side_table_index(const void* tcb, std::size_t slots) {
    // TCBs are array slots of a few hundred bytes: the address bits above the low ones spread.
    const auto a = reinterpret_cast<std::uintptr_t>(tcb);
    return (a >> 8 ^ a >> 18) % slots;
}

}  // namespace sluice::tcp
