#include "drivers/rss.hpp"

#include <cstring>
#include <vector>

#include <rte_ethdev.h>

namespace sluice::drivers {

Result<flow::RssModel, std::string> program_rss(std::uint16_t port_id,
                                                const flow::RssModel::Key& key,
                                                std::uint16_t queues,
                                                std::uint64_t rss_hash_functions) {
    // Without the ports in the hash, neither the port choice nor the flow table's reuse of the
    // NIC's hash would hold.
    if ((rss_hash_functions & RTE_ETH_RSS_NONFRAG_IPV4_TCP) == 0)
        return Unexpected{std::string("the device offers no TCP/IPv4 RSS over ports")};
    rte_eth_dev_info info{};
    if (const int rc = rte_eth_dev_info_get(port_id, &info); rc != 0) {
        return Unexpected{std::string("device info: ") + std::strerror(-rc)};
    }
    if (info.hash_key_size != key.size()) {
        return Unexpected{"the device's RSS key is " + std::to_string(info.hash_key_size) +
                          " bytes, not " + std::to_string(key.size())};
    }
    const std::uint16_t reta_size = info.reta_size;
    if (reta_size == 0 || reta_size % RTE_ETH_RETA_GROUP_SIZE != 0 ||
        (reta_size & (reta_size - 1)) != 0) {
        return Unexpected{"the device has no usable redirection table (size " +
                          std::to_string(reta_size) + ")"};
    }

    flow::RssModel::Key wanted = key;
    rte_eth_rss_conf conf{};
    conf.rss_key = wanted.data();
    conf.rss_key_len = static_cast<std::uint8_t>(wanted.size());
    conf.rss_hf = rss_hash_functions;
    if (const int rc = rte_eth_dev_rss_hash_update(port_id, &conf); rc != 0) {
        return Unexpected{std::string("setting the RSS key: ") + std::strerror(-rc)};
    }
    const auto table = flow::RssModel::round_robin_table(queues, reta_size);
    std::vector<rte_eth_rss_reta_entry64> reta(reta_size / RTE_ETH_RETA_GROUP_SIZE);
    for (std::size_t i = 0; i < table.size(); ++i) {
        reta[i / RTE_ETH_RETA_GROUP_SIZE].mask = ~std::uint64_t{0};
        reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE] = table[i];
    }
    if (const int rc = rte_eth_dev_rss_reta_update(port_id, reta.data(), reta_size); rc != 0) {
        return Unexpected{std::string("setting the redirection table: ") + std::strerror(-rc)};
    }

    // Trust only what the device reports back.
    flow::RssModel::Key got{};
    rte_eth_rss_conf read{};
    read.rss_key = got.data();
    read.rss_key_len = static_cast<std::uint8_t>(got.size());
    if (const int rc = rte_eth_dev_rss_hash_conf_get(port_id, &read); rc != 0 || got != key) {
        return Unexpected{std::string("the device does not report back the RSS key it was given")};
    }
    std::vector<rte_eth_rss_reta_entry64> back(reta.size());
    for (auto& e : back)
        e.mask = ~std::uint64_t{0};
    if (const int rc = rte_eth_dev_rss_reta_query(port_id, back.data(), reta_size); rc != 0) {
        return Unexpected{std::string("reading the redirection table: ") + std::strerror(-rc)};
    }
    for (std::size_t i = 0; i < table.size(); ++i) {
        if (back[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE] != table[i]) {
            return Unexpected{std::string("the device reports another redirection table")};
        }
    }
    return flow::RssModel(key, table);
}

}  // namespace sluice::drivers
