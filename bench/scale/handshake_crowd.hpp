// A crowd of TCP clients with no state of their own, for opening millions of connections to one
// engine worker in-process (scale_bench.cpp). Client i is 172.16.0.0 + i / kPortsPerAddress :
// 10000 + i % kPortsPerAddress, reached through a gateway, so the engine needs one ARP answer and
// no per-client neighbour entry. A client sends a SYN; the engine's SYN-ACK says everything the
// client needs to send the final ACK (its own number is the same for every client), so nothing
// is remembered between the two.
#pragma once

#include <cstdint>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <sluice/addresses.hpp>

namespace sluice::bench {

struct CrowdConfig {
    wire::MacAddress engine_mac;
    wire::Ipv4Address engine_ip;
    std::uint16_t engine_port = 80;
    wire::MacAddress gateway_mac;
    wire::Ipv4Address gateway_ip;
};

class HandshakeCrowd {
  public:
    static constexpr std::uint32_t kPortsPerAddress = 50000;
    static constexpr std::uint32_t kClientIsn = 1000;

    HandshakeCrowd(const CrowdConfig& config, rte_mempool* pool) : config_(config), pool_(pool) {}

    // The SYN of client `i`, or null when the pool is empty.
    rte_mbuf* syn(std::uint32_t i) const;
    // What to answer a frame the engine sent: the final ACK for a SYN-ACK, the gateway's ARP
    // reply for an ARP request; null for anything else. Does not free `sent`.
    rte_mbuf* answer(const rte_mbuf* sent);

    std::uint64_t synacks_seen() const { return synacks_; }
    std::uint64_t others_seen() const { return others_; }

  private:
    rte_mbuf* segment(wire::Ipv4Address source, std::uint16_t source_port, std::uint32_t seq,
                      std::uint32_t ack, std::uint8_t flags) const;

    CrowdConfig config_;
    rte_mempool* pool_;
    std::uint64_t synacks_ = 0;
    std::uint64_t others_ = 0;
};

}  // namespace sluice::bench
