// The rte_hash set-up FlowTable used before the open-addressing index replaced it (see
// flow_lookup_bench.cpp for the figures that decided it), kept as the benchmark's baseline.
#include "bench/rte_hash_flow_index.hpp"

#include <rte_errno.h>
#include <rte_hash_crc.h>

namespace sluice::flow {

rte_hash* create_flow_index(const std::string& name, std::uint32_t capacity, std::string& error) {
    rte_hash_parameters params{};
    params.name = name.c_str();
    params.entries = capacity;
    params.key_len = sizeof(FourTuple);
    params.hash_func = rte_hash_crc;  // SSE4.2 CRC32 where the CPU has it
    params.socket_id = SOCKET_ID_ANY;
    // Extendable buckets: a full bucket chains instead of failing before the nominal capacity.
    params.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    rte_hash* index = rte_hash_create(&params);
    if (index == nullptr) {
        error = "cannot create the flow table '" + name + "' for " + std::to_string(capacity) +
                " connections: " + rte_strerror(rte_errno) +
                " (lower the connection limit or give EAL more memory)";
    }
    return index;
}

}  // namespace sluice::flow
