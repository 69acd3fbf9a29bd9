#include "tests/support/toeplitz_wire.hpp"

#include <stdexcept>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <sluice/byte_order.hpp>
#include "tests/support/eal_environment.hpp"

namespace sluice::test {

namespace {

int g_next_wire = 0;
constexpr unsigned kRingSize = 4096;
constexpr std::size_t kEthernet = 14;

// The queue a NIC would choose, and the hash it would report; nullopt for a frame that is not
// TCP/IPv4 (the NIC's default queue takes it, with no hash).
std::optional<std::uint32_t> toeplitz_of(const rte_mbuf* m, const flow::RssModel& spread) {
    const auto* b = rte_pktmbuf_mtod(m, const std::byte*);
    if (m->data_len < kEthernet + 20 + 20 || wire::load_be16(b + 12).host() != 0x0800)
        return std::nullopt;
    const std::byte* ip = b + kEthernet;
    const std::size_t ihl = (std::to_integer<unsigned>(ip[0]) & 0x0f) * 4U;
    if (std::to_integer<unsigned>(ip[9]) != 6 || m->data_len < kEthernet + ihl + 4)
        return std::nullopt;
    const std::byte* tcp = ip + ihl;
    return spread.hash(wire::load_be32(ip + 12).host(), wire::load_be32(ip + 16).host(),
                       wire::load_be16(tcp).host(), wire::load_be16(tcp + 2).host());
}

}  // namespace

ToeplitzWire::ToeplitzWire(std::uint16_t queues, const flow::RssModel& spread, bool stamp_hash)
    : spread_(spread), stamp_hash_(stamp_hash), delivered_(queues, 0) {
    const std::string name = "twire" + std::to_string(g_next_wire++);
    for (std::uint16_t q = 0; q < queues; ++q) {
        const std::string n = name + "_" + std::to_string(q);
        rx_.push_back(rte_ring_create((n + "_rx").c_str(), kRingSize, SOCKET_ID_ANY,
                                      RING_F_SP_ENQ | RING_F_SC_DEQ));
        tx_.push_back(rte_ring_create((n + "_tx").c_str(), kRingSize, SOCKET_ID_ANY,
                                      RING_F_SP_ENQ | RING_F_SC_DEQ));
        if (rx_.back() == nullptr || tx_.back() == nullptr)
            throw std::runtime_error("cannot create the wire's rings");
    }
    const int id =
        rte_eth_from_rings(name.c_str(), rx_.data(), queues, tx_.data(), queues, SOCKET_ID_ANY);
    if (id < 0)
        throw std::runtime_error("rte_eth_from_rings failed");
    port_id_ = static_cast<std::uint16_t>(id);
    rte_eth_conf conf{};
    if (rte_eth_dev_configure(port_id_, queues, queues, &conf) != 0)
        throw std::runtime_error("cannot configure the wire's engine port");
    for (std::uint16_t q = 0; q < queues; ++q) {
        if (rte_eth_rx_queue_setup(port_id_, q, kRingSize, SOCKET_ID_ANY, nullptr, packet_pool()) !=
                0 ||
            rte_eth_tx_queue_setup(port_id_, q, kRingSize, SOCKET_ID_ANY, nullptr) != 0) {
            throw std::runtime_error("cannot set up the wire's queues");
        }
    }
    if (rte_eth_dev_start(port_id_) != 0)
        throw std::runtime_error("cannot start the wire's engine port");
}

ToeplitzWire::~ToeplitzWire() {
    rte_eth_dev_stop(port_id_);
    rte_eth_dev_close(port_id_);
    for (auto* rings : {&rx_, &tx_}) {
        for (rte_ring* r : *rings) {
            void* m = nullptr;
            while (rte_ring_dequeue(r, &m) == 0)
                rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
            rte_ring_free(r);
        }
    }
}

unsigned ToeplitzWire::carry() {
    unsigned moved = 0;
    for (rte_ring* r : tx_) {
        void* m = nullptr;
        while (rte_ring_dequeue(r, &m) == 0) {
            peer_.inject(static_cast<rte_mbuf*>(m));
            ++moved;
        }
    }
    for (rte_mbuf* m : peer_.take_transmitted_mbufs()) {
        std::size_t queue = 0;
        m->ol_flags = 0;  // what the peer's transmit path left means nothing on receive
        if (const auto hash = toeplitz_of(m, spread_)) {
            queue = spread_.queue_of_hash(*hash);
            if (stamp_hash_) {
                m->hash.rss = *hash;
                m->ol_flags |= RTE_MBUF_F_RX_RSS_HASH;
            }
        }
        if (queue >= rx_.size() || rte_ring_enqueue(rx_[queue], m) != 0) {
            rte_pktmbuf_free(m);  // as a full NIC queue would drop it
            continue;
        }
        delivered_[queue] += 1;
        ++moved;
    }
    return moved;
}

}  // namespace sluice::test
