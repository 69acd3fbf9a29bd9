// Where a NIC's receive-side scaling puts a TCP/IPv4 packet: the Toeplitz hash (Microsoft's RSS
// specification) of (source ip, destination ip, source port, destination port) under a 40-byte key,
// then the redirection table indexed by the hash's low bits. The engine programs this same key and
// table into the device, so the control plane can tell in advance which queue, and so which worker,
// a peer's answers will reach (docs/architecture.md, "RSS-aware choice").
//
// Immutable after construction: safe to read from any core.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include <sluice/four_tuple.hpp>

namespace sluice::flow {

class RssModel {
  public:
    static constexpr std::size_t kKeyLength = 40;
    using Key = std::array<std::uint8_t, kKeyLength>;

    // 0x6d5a repeated: with this key the Toeplitz hash of a flow is the same in both directions
    // (Woo and Park, "Scalable TCP Session Monitoring with Symmetric Receive-side Scaling", 2012).
    static Key symmetric_key();

    // `reta[i]` is the queue for hashes whose low bits are i; its size must be a power of two.
    RssModel(const Key& key, std::vector<std::uint16_t> reta);
    // A table that spreads `queues` queues round-robin over `reta_size` entries, as NICs do by
    // default.
    static std::vector<std::uint16_t> round_robin_table(std::uint16_t queues,
                                                        std::uint16_t reta_size);

    // The hash of a packet from source to destination (all host order).
    std::uint32_t hash(std::uint32_t source_ip, std::uint32_t destination_ip,
                       std::uint16_t source_port, std::uint16_t destination_port) const;
    std::uint16_t queue_of_hash(std::uint32_t hash) const {
        return reta_[hash & (reta_.size() - 1)];
    }
    // The queue on which the peer's segments of this connection arrive (they travel remote ->
    // local).
    std::uint16_t queue_of_return(const FourTuple& t) const {
        return queue_of_hash(hash(t.remote_ip, t.local_ip, t.remote_port, t.local_port));
    }

    const Key& key() const { return key_; }
    std::span<const std::uint16_t> table() const { return reta_; }

  private:
    Key key_;
    // The key as rte_softrss_be() wants it (rte_convert_rss_key): the hash then works a 32-bit
    // word at a time instead of a byte at a time.
    std::array<std::uint32_t, kKeyLength / 4> converted_key_{};
    std::vector<std::uint16_t> reta_;
};

}  // namespace sluice::flow
