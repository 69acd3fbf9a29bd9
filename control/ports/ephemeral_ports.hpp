// The control plane's ephemeral port space: every (local address, port) pair in the configured
// range, cut into blocks that are lent to workers (docs/architecture.md, "Ephemeral ports"). A
// worker draws ports for connect() from its own pool (dataplane/tcp/local_port_pool.hpp) without
// asking anyone, and asks for another block when it runs low. A block stays with the worker it was
// lent to, so a pair is only ever in one worker's hands; which worker holds a port is readable from
// any core, for steering a segment that reached the wrong one.
#pragma once

#include "dataplane/multicore/worker_links.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sluice/addresses.hpp>

namespace sluice::control {

struct PortBlock {
    std::uint8_t address_index = 0;
    std::uint16_t first_port = 0;
    std::uint16_t count = 0;

    // Packed into one word, to travel on an rte_ring without allocating.
    std::uint64_t pack() const {
        return (std::uint64_t{address_index} << 32) | (std::uint64_t{first_port} << 16) | count;
    }
    static PortBlock unpack(std::uint64_t w) {
        return PortBlock{static_cast<std::uint8_t>(w >> 32), static_cast<std::uint16_t>(w >> 16),
                         static_cast<std::uint16_t>(w)};
    }
};

class EphemeralPortAllocator {
  public:
    static constexpr std::uint16_t kBlockSize = kPortBlockSize;
    static constexpr int kNoOwner = -1;

    // Ports first..last (inclusive) on each of `addresses` (at most 255).
    EphemeralPortAllocator(std::vector<wire::Ipv4Address> addresses, std::uint16_t first,
                           std::uint16_t last);

    // The next free block for `worker`, or nothing when the space is exhausted.
    std::optional<PortBlock> lend(std::uint16_t worker);
    // The worker holding (address, port), or kNoOwner (not ephemeral, or not lent). Any thread.
    int owner_of(wire::Ipv4Address address, std::uint16_t port) const;

    const std::vector<wire::Ipv4Address>& addresses() const { return addresses_; }
    std::uint16_t first_port() const { return first_; }
    std::uint16_t last_port() const { return last_; }
    std::size_t pairs_total() const;
    std::size_t blocks_total() const { return blocks_per_address_ * addresses_.size(); }
    std::size_t blocks_lent() const { return next_block_ - returned_.size(); }
    // A worker gives a block back (all its ports free again); it is lent again before any block
    // never lent. False if `worker` does not hold it.
    bool take_back(const PortBlock& block, std::uint16_t worker);
    // How many blocks each worker holds.
    std::vector<std::size_t> blocks_by_worker() const;

  private:
    std::size_t block_index(std::size_t address_index, std::uint16_t port) const {
        return address_index * blocks_per_address_ + (port - first_) / kBlockSize;
    }

    std::vector<wire::Ipv4Address> addresses_;
    std::uint16_t first_;
    std::uint16_t last_;
    std::size_t blocks_per_address_;
    std::size_t next_block_ = 0;         // blocks never lent are lent in order
    std::vector<std::size_t> returned_;  // blocks given back, lent again first
    std::unique_ptr<std::atomic<std::int16_t>[]> owner_;
};

}  // namespace sluice::control
