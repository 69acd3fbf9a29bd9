#include "drivers/capabilities.hpp"

namespace sluice::drivers {

namespace {

constexpr std::uint64_t kRxChecksums = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
constexpr std::uint64_t kTxChecksums = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
constexpr std::uint64_t kRssTcpIpv4 =
    RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_FRAG_IPV4;

std::string names(std::uint64_t bits, const char* (*name_of)(std::uint64_t)) {
    if (bits == 0)
        return "none";
    std::string out;
    for (int i = 0; i < 64; ++i) {
        const std::uint64_t bit = std::uint64_t{1} << i;
        if ((bits & bit) == 0)
            continue;
        if (!out.empty())
            out += ' ';
        out += name_of(bit);
    }
    return out;
}

std::string describe(const char* direction, std::uint64_t asked, std::uint64_t granted,
                     const char* (*name_of)(std::uint64_t)) {
    return std::string(direction) + " asked: " + names(asked, name_of) +
           "; granted: " + names(granted, name_of) +
           "; in software: " + names(asked & ~granted, name_of);
}

}  // namespace

OffloadPlan negotiate_offloads(const rte_eth_dev_info& info, const OffloadRequest& request,
                               std::uint16_t rx_queues) {
    OffloadPlan plan;
    if (request.checksums) {
        plan.rx_offloads = kRxChecksums & info.rx_offload_capa;
        plan.tx_offloads = kTxChecksums & info.tx_offload_capa;
    }
    // l3fwd's rule: ask only for the hash functions the device supports, and only when there is
    // more than one queue to spread over.
    if (request.rss && rx_queues > 1)
        plan.rss_hash_functions = kRssTcpIpv4 & info.flow_type_rss_offloads;
    return plan;
}

std::string describe_offloads(const OffloadRequest& request, const OffloadPlan& plan,
                              const rte_eth_dev_info& /*info*/) {
    const std::uint64_t rx_asked = request.checksums ? kRxChecksums : 0;
    const std::uint64_t tx_asked = request.checksums ? kTxChecksums : 0;
    std::string out = describe("rx", rx_asked, plan.rx_offloads,
                               [](std::uint64_t b) { return rte_eth_dev_rx_offload_name(b); });
    out += "\n    " + describe("tx", tx_asked, plan.tx_offloads,
                               [](std::uint64_t b) { return rte_eth_dev_tx_offload_name(b); });
    out += std::string("\n    rss: ") + (plan.rss() ? "on" : "off");
    return out;
}

}  // namespace sluice::drivers
