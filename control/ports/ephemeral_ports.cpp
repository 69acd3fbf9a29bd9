#include "control/ports/ephemeral_ports.hpp"

namespace sluice::control {

EphemeralPortAllocator::EphemeralPortAllocator(std::vector<wire::Ipv4Address> addresses,
                                               std::uint16_t first, std::uint16_t last)
    : addresses_(std::move(addresses)),
      first_(first),
      last_(last < first ? first : last),
      blocks_per_address_((static_cast<std::size_t>(last_ - first_) + kBlockSize) / kBlockSize) {
    if (addresses_.size() > 255)
        addresses_.resize(255);
    owner_ = std::make_unique<std::atomic<std::int16_t>[]>(blocks_total());
    for (std::size_t i = 0; i < blocks_total(); ++i)
        owner_[i].store(kNoOwner);
}

std::size_t EphemeralPortAllocator::pairs_total() const {
    return (static_cast<std::size_t>(last_ - first_) + 1) * addresses_.size();
}

std::optional<PortBlock> EphemeralPortAllocator::lend(std::uint16_t worker) {
    std::size_t b = 0;
    if (!returned_.empty()) {
        b = returned_.back();
        returned_.pop_back();
    } else if (next_block_ < blocks_total()) {
        b = next_block_++;
    } else {
        return std::nullopt;
    }
    const std::size_t address_index = b / blocks_per_address_;
    const std::size_t first = first_ + (b % blocks_per_address_) * kBlockSize;
    const std::size_t count = std::min<std::size_t>(kBlockSize, last_ - first + 1);
    // Published before the block reaches the worker (over a ring, which orders it), so a segment
    // for one of its ports is never seen as unowned by another worker.
    owner_[b].store(static_cast<std::int16_t>(worker), std::memory_order_release);
    return PortBlock{static_cast<std::uint8_t>(address_index), static_cast<std::uint16_t>(first),
                     static_cast<std::uint16_t>(count)};
}

bool EphemeralPortAllocator::take_back(const PortBlock& block, std::uint16_t worker) {
    if (block.address_index >= addresses_.size() || block.first_port < first_ ||
        block.first_port > last_ || (block.first_port - first_) % kBlockSize != 0) {
        return false;
    }
    const std::size_t b = block_index(block.address_index, block.first_port);
    std::int16_t holder = static_cast<std::int16_t>(worker);
    // Unowned from here: a late segment for one of its ports is not steered anywhere.
    if (!owner_[b].compare_exchange_strong(holder, kNoOwner, std::memory_order_acq_rel))
        return false;
    returned_.push_back(b);
    return true;
}

int EphemeralPortAllocator::owner_of(wire::Ipv4Address address, std::uint16_t port) const {
    if (port < first_ || port > last_)
        return kNoOwner;
    for (std::size_t a = 0; a < addresses_.size(); ++a) {
        if (addresses_[a] == address) {
            return owner_[block_index(a, port)].load(std::memory_order_acquire);
        }
    }
    return kNoOwner;
}

std::vector<std::size_t> EphemeralPortAllocator::blocks_by_worker() const {
    std::vector<std::size_t> counts;
    for (std::size_t b = 0; b < blocks_total(); ++b) {
        const int owner = owner_[b].load(std::memory_order_relaxed);
        if (owner < 0)
            continue;
        if (counts.size() <= static_cast<std::size_t>(owner))
            counts.resize(owner + 1);
        ++counts[static_cast<std::size_t>(owner)];
    }
    return counts;
}

}  // namespace sluice::control
