// rte_hash keyed by FourTuple as FlowTable first used it: CRC hash, extendable buckets.
#pragma once

#include <cstdint>
#include <string>

#include <rte_hash.h>

#include <sluice/four_tuple.hpp>

namespace sluice::flow {

rte_hash* create_flow_index(const std::string& name, std::uint32_t capacity, std::string& error);

}  // namespace sluice::flow
