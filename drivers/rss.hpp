// Receive-side scaling set up so the engine can predict it: program a known Toeplitz key and a
// round-robin redirection table into the device, then read both back. Only if the device took and
// reports exactly what was asked does the control plane choose ports by it (docs/architecture.md,
// "RSS-aware choice"); otherwise the caller falls back to software steering, and says why.
#pragma once

#include <cstdint>
#include <string>

#include <sluice/result.hpp>
#include "dataplane/flow/rss_model.hpp"

namespace sluice::drivers {

// `rss_hash_functions`: what the port was configured with (RTE_ETH_RSS_*), non-zero.
Result<flow::RssModel, std::string> program_rss(std::uint16_t port_id,
                                                const flow::RssModel::Key& key,
                                                std::uint16_t queues,
                                                std::uint64_t rss_hash_functions);

}  // namespace sluice::drivers
