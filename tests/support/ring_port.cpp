#include "tests/support/ring_port.hpp"

#include <cctype>
#include <cstring>
#include <stdexcept>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>

#include "tests/support/eal_environment.hpp"

namespace sluice::test {

namespace {
int g_next_port = 0;
}

RingPort::RingPort(bool start, unsigned ring_size) : name_("test" + std::to_string(g_next_port++)) {
    rx_ = rte_ring_create((name_ + "_rx").c_str(), ring_size, SOCKET_ID_ANY,
                          RING_F_SP_ENQ | RING_F_SC_DEQ);
    tx_ = rte_ring_create((name_ + "_tx").c_str(), ring_size, SOCKET_ID_ANY,
                          RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (rx_ == nullptr || tx_ == nullptr)
        throw std::runtime_error("cannot create test rings");
    const int id = rte_eth_from_rings(name_.c_str(), &rx_, 1, &tx_, 1, SOCKET_ID_ANY);
    if (id < 0)
        throw std::runtime_error("rte_eth_from_rings failed");
    port_id_ = static_cast<std::uint16_t>(id);
    char name[RTE_ETH_NAME_MAX_LEN] = {};
    rte_eth_dev_get_name_by_port(port_id_, name);  // the driver prefixes our name
    name_ = name;
    if (!start)
        return;
    rte_eth_conf conf{};
    if (rte_eth_dev_configure(port_id_, 1, 1, &conf) != 0 ||
        rte_eth_rx_queue_setup(port_id_, 0, 1024, SOCKET_ID_ANY, nullptr, packet_pool()) != 0 ||
        rte_eth_tx_queue_setup(port_id_, 0, 1024, SOCKET_ID_ANY, nullptr) != 0 ||
        rte_eth_dev_start(port_id_) != 0) {
        throw std::runtime_error("cannot start the test ring port");
    }
}

RingPort::~RingPort() {
    for (auto& b : take_transmitted())
        (void)b;
    void* m;
    while (rte_ring_dequeue(rx_, &m) == 0)
        rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    // The code under test may have closed the port already (drivers::Port does on destruction).
    if (rte_eth_dev_is_valid_port(port_id_)) {
        rte_eth_dev_stop(port_id_);
        rte_eth_dev_close(port_id_);
    }
    rte_ring_free(rx_);
    rte_ring_free(tx_);
}

void RingPort::inject(rte_mbuf* frame) {
    if (rte_ring_enqueue(rx_, frame) != 0)
        throw std::runtime_error("test rx ring full");
}

std::vector<std::vector<std::byte>> RingPort::take_transmitted() {
    std::vector<std::vector<std::byte>> out;
    void* m;
    while (rte_ring_dequeue(tx_, &m) == 0) {
        auto* mbuf = static_cast<rte_mbuf*>(m);
        out.push_back(bytes_of(mbuf));
        rte_pktmbuf_free(mbuf);
    }
    return out;
}

std::vector<rte_mbuf*> RingPort::take_transmitted_mbufs() {
    std::vector<rte_mbuf*> out;
    void* m;
    while (rte_ring_dequeue(tx_, &m) == 0)
        out.push_back(static_cast<rte_mbuf*>(m));
    return out;
}

rte_mbuf* make_mbuf(std::span<const std::byte> bytes) {
    rte_mbuf* m = rte_pktmbuf_alloc(packet_pool());
    if (m == nullptr)
        throw std::runtime_error("test pool exhausted");
    auto* p = rte_pktmbuf_append(m, static_cast<std::uint16_t>(bytes.size()));
    if (p == nullptr)
        throw std::runtime_error("frame too large for one mbuf");
    std::memcpy(p, bytes.data(), bytes.size());
    return m;
}

std::vector<std::byte> bytes_of(const rte_mbuf* m) {
    std::vector<std::byte> out(m->pkt_len);
    const void* p = rte_pktmbuf_read(m, 0, m->pkt_len, out.data());
    if (p != out.data())
        std::memcpy(out.data(), p, m->pkt_len);
    return out;
}

std::vector<std::byte> from_hex(std::string_view hex) {
    std::vector<std::byte> out;
    int pending = -1;
    for (const char c : hex) {
        if (std::isspace(static_cast<unsigned char>(c)))
            continue;
        const int v =
            std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(c) - 'a' + 10;
        if (v < 0 || v > 15)
            throw std::invalid_argument("bad hex digit");
        if (pending < 0) {
            pending = v;
        } else {
            out.push_back(static_cast<std::byte>(pending << 4 | v));
            pending = -1;
        }
    }
    if (pending >= 0)
        throw std::invalid_argument("odd number of hex digits");
    return out;
}

}  // namespace sluice::test
