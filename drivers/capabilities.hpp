// Offload negotiation: what the engine asks of a device, what the device says it can do, and what
// was granted. Anything not granted is done in software (docs/architecture.md, rule 5).
#pragma once

#include <cstdint>
#include <string>

#include <rte_ethdev.h>

namespace sluice::drivers {

struct OffloadRequest {
    bool checksums = true;  // IPv4 header and TCP checksums, both directions
    bool rss = true;        // spread flows over queues by a hash of the 4-tuple
};

struct OffloadPlan {
    std::uint64_t rx_offloads = 0;         // RTE_ETH_RX_OFFLOAD_*
    std::uint64_t tx_offloads = 0;         // RTE_ETH_TX_OFFLOAD_*
    std::uint64_t rss_hash_functions = 0;  // RTE_ETH_RSS_*; zero when RSS is off

    bool rx_ipv4_checksum() const { return rx_offloads & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM; }
    bool rx_tcp_checksum() const { return rx_offloads & RTE_ETH_RX_OFFLOAD_TCP_CKSUM; }
    bool tx_ipv4_checksum() const { return tx_offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM; }
    bool tx_tcp_checksum() const { return tx_offloads & RTE_ETH_TX_OFFLOAD_TCP_CKSUM; }
    bool rss() const { return rss_hash_functions != 0; }
};

OffloadPlan negotiate_offloads(const rte_eth_dev_info& info, const OffloadRequest& request,
                               std::uint16_t rx_queues);

// "asked: ipv4-cksum tcp-cksum; granted: ipv4-cksum; software: tcp-cksum", one line per direction.
std::string describe_offloads(const OffloadRequest& request, const OffloadPlan& plan,
                              const rte_eth_dev_info& info);

}  // namespace sluice::drivers
