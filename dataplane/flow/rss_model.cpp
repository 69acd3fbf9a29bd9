#include "dataplane/flow/rss_model.hpp"

#include <cstring>

#include <rte_thash.h>

namespace sluice::flow {

RssModel::Key RssModel::symmetric_key() {
    Key key{};
    for (std::size_t i = 0; i < key.size(); i += 2) {
        key[i] = 0x6d;
        key[i + 1] = 0x5a;
    }
    return key;
}

RssModel::RssModel(const Key& key, std::vector<std::uint16_t> reta)
    : key_(key), reta_(std::move(reta)) {
    std::array<std::uint32_t, kKeyLength / 4> words{};
    std::memcpy(words.data(), key_.data(), key_.size());
    rte_convert_rss_key(words.data(), converted_key_.data(), static_cast<int>(key_.size()));
    if (reta_.empty() || (reta_.size() & (reta_.size() - 1)) != 0)
        reta_.assign(1, 0);
}

std::vector<std::uint16_t> RssModel::round_robin_table(std::uint16_t queues,
                                                       std::uint16_t reta_size) {
    std::vector<std::uint16_t> table(reta_size == 0 ? 1 : reta_size);
    for (std::size_t i = 0; i < table.size(); ++i) {
        table[i] = static_cast<std::uint16_t>(i % (queues == 0 ? 1 : queues));
    }
    return table;
}

std::uint32_t RssModel::hash(std::uint32_t source_ip, std::uint32_t destination_ip,
                             std::uint16_t source_port, std::uint16_t destination_port) const {
    // rte_softrss reads the tuple as host-order 32-bit words: addresses, then sport:dport.
    rte_ipv4_tuple tuple{};
    tuple.src_addr = source_ip;
    tuple.dst_addr = destination_ip;
    tuple.sport = source_port;
    tuple.dport = destination_port;
    return rte_softrss_be(reinterpret_cast<std::uint32_t*>(&tuple), RTE_THASH_V4_L4_LEN,
                          reinterpret_cast<const std::uint8_t*>(converted_key_.data()));
}

}  // namespace sluice::flow
