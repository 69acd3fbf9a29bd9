// A real DPDK ethdev (the net_ring driver, rte_eth_from_rings) whose two rings the test holds: what
// the test enqueues on `rx` the engine receives, what the engine transmits lands on `tx`.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <rte_mbuf.h>
#include <rte_ring.h>

namespace sluice::test {

class RingPort {
  public:
    // `start`: configure one queue pair and start the port, as the engine's Port would; pass false
    // to leave that to the code under test.
    // `ring_size`: the size of the two rings (a power of two; one slot less is usable), small to
    // play a device whose tx ring fills.
    explicit RingPort(bool start = true, unsigned ring_size = 1024);
    ~RingPort();
    RingPort(const RingPort&) = delete;
    RingPort& operator=(const RingPort&) = delete;

    std::uint16_t port_id() const { return port_id_; }
    const std::string& name() const { return name_; }

    // Hands a frame to the engine's rx side. Takes ownership.
    void inject(rte_mbuf* frame);
    // Everything the engine has transmitted so far, as byte vectors; the mbufs are freed.
    std::vector<std::vector<std::byte>> take_transmitted();
    // The same, as the mbufs themselves (offload flags and lengths intact); the caller frees them.
    std::vector<rte_mbuf*> take_transmitted_mbufs();

  private:
    std::string name_;
    rte_ring* rx_ = nullptr;
    rte_ring* tx_ = nullptr;
    std::uint16_t port_id_ = 0;
};

// An mbuf from the test pool holding a copy of `bytes`.
rte_mbuf* make_mbuf(std::span<const std::byte> bytes);
std::vector<std::byte> bytes_of(const rte_mbuf* m);

// Hex text ("45 00 00 1c ...", spaces and newlines ignored) to bytes, for golden packets.
std::vector<std::byte> from_hex(std::string_view hex);

}  // namespace sluice::test
