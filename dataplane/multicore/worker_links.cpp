#include "dataplane/multicore/worker_links.hpp"

#include <algorithm>
#include <array>

namespace sluice {

namespace {

// Set on ARP copies, so that the receiving side does not count them as steered segments.
constexpr std::uint32_t kArpCopy = RTE_PTYPE_L2_ETHER_ARP;
constexpr unsigned kBurst = 32;

}  // namespace

namespace {

// With known RSS only the ports whose return tuple hashes to our queue suit a destination: about
// one in as many as there are queues. The pool must then hold that many times more to have the
// same number usable, or it would run dry while still above a plain low-water mark.
std::size_t low_water_for(const WorkerLinksConfig& config) {
    if (config.rss == nullptr)
        return WorkerLinks::kLowWater;
    const auto table = config.rss->table();
    const std::size_t queues =
        table.empty() ? 1 : std::size_t{*std::max_element(table.begin(), table.end())} + 1;
    return WorkerLinks::kLowWater * queues;
}

}  // namespace

WorkerLinks::WorkerLinks(WorkerLinksConfig config, WorkerCounters& counters)
    : config_(std::move(config)),
      counters_(counters),
      pool_(config_.port_capacity, low_water_for(config_)) {
    const std::size_t span = config_.ephemeral_last >= config_.ephemeral_first
                                 ? std::size_t{config_.ephemeral_last} - config_.ephemeral_first + 1
                                 : 0;
    blocks_per_address_ = (span + kPortBlockSize - 1) / kPortBlockSize;
    const std::size_t blocks = blocks_per_address_ * config_.local_addresses.size();
    block_size_.assign(blocks, 0);
    block_free_.assign(blocks, 0);
    // Hysteresis: blocks go back only while four times the refill mark stays in the pool, so a
    // worker does not give back what it would ask for again a moment later.
    high_water_ = 4 * low_water_for(config_) + kPortBlockSize;
}

std::size_t WorkerLinks::block_of(const tcp::LocalEndpoint& e) const {
    if (e.port < config_.ephemeral_first || e.port > config_.ephemeral_last)
        return SIZE_MAX;
    for (std::size_t a = 0; a < config_.local_addresses.size(); ++a) {
        if (config_.local_addresses[a].host() == e.ip)
            return a * blocks_per_address_ + (e.port - config_.ephemeral_first) / kPortBlockSize;
    }
    return SIZE_MAX;
}

void WorkerLinks::maybe_return_block(std::size_t block) {
    if (block >= block_size_.size() || block_size_[block] == 0 ||
        block_free_[block] != block_size_[block] || pool_.free_count() < high_water_ ||
        config_.to_control == nullptr) {
        return;
    }
    // One place stays free for a refill request.
    if (rte_ring_free_count(config_.to_control) < 2)
        return;
    const std::size_t address_index = block / blocks_per_address_;
    const auto first = static_cast<std::uint16_t>(config_.ephemeral_first +
                                                  (block % blocks_per_address_) * kPortBlockSize);
    const std::uint64_t packed =
        (std::uint64_t{address_index} << 32) | (std::uint64_t{first} << 16) | block_size_[block];
    const std::uintptr_t word = control_message::kReturnBlock | packed;
    pool_.remove_if([&](const tcp::LocalEndpoint& e) { return block_of(e) == block; });
    rte_ring_sp_enqueue(config_.to_control, reinterpret_cast<void*>(word));
    block_size_[block] = 0;
    block_free_[block] = 0;
    --blocks_held_;
    counters_.ephemeral_blocks_returned += 1;
}

void WorkerLinks::attach(NetStack& net, tcp::TcpStack& tcp) {
    net_ = &net;
    tcp_ = &tcp;
    net.set_arp_sharing(this);
    tcp.set_port_arrangements(this);
}

void WorkerLinks::add_block(std::uint8_t address_index, std::uint16_t first_port,
                            std::uint16_t count) {
    if (address_index >= config_.local_addresses.size())
        return;
    const std::uint32_t ip = config_.local_addresses[address_index].host();
    for (std::uint32_t p = first_port; p < std::uint32_t{first_port} + count; ++p) {
        pool_.add(tcp::LocalEndpoint{ip, static_cast<std::uint16_t>(p)});
    }
    const std::size_t block = block_of(tcp::LocalEndpoint{ip, first_port});
    if (block < block_size_.size() && block_size_[block] == 0) {
        block_size_[block] = static_cast<std::uint8_t>(count);
        block_free_[block] = static_cast<std::uint8_t>(count);
        ++blocks_held_;
    }
}

void WorkerLinks::poll() {
    std::array<void*, kBurst> items;
    for (rte_ring* ring : config_.from_worker) {
        if (ring == nullptr)
            continue;
        const unsigned n = rte_ring_sc_dequeue_burst(ring, items.data(), kBurst, nullptr);
        for (unsigned i = 0; i < n; ++i) {
            auto* frame = static_cast<rte_mbuf*>(items[i]);
            if (frame->packet_type != kArpCopy)
                counters_.steered_in += 1;
            frame->packet_type = 0;
            net_->receive(frame, /*from_peer=*/true);
        }
    }
    if (config_.from_control != nullptr) {
        void* item = nullptr;
        while (rte_ring_sc_dequeue(config_.from_control, &item) == 0) {
            const auto word = reinterpret_cast<std::uintptr_t>(item);
            if ((word & control_message::kListenOrder) != 0) {
                carry_out(*reinterpret_cast<ListenOrder*>(word & ~control_message::kListenOrder));
                continue;
            }
            refill_pending_ = false;
            if ((word & control_message::kNoMorePorts) != 0)
                continue;
            add_block(static_cast<std::uint8_t>(word >> 32), static_cast<std::uint16_t>(word >> 16),
                      static_cast<std::uint16_t>(word));
        }
    }
}

bool WorkerLinks::request_listen(ListenOrder& order) {
    if (config_.to_control == nullptr)
        return false;
    // One place stays free for the refill request, which has no other way to travel.
    if (rte_ring_free_count(config_.to_control) < 2)
        return false;
    const std::uintptr_t word =
        control_message::kListenRequest | reinterpret_cast<std::uintptr_t>(&order);
    return rte_ring_sp_enqueue(config_.to_control, reinterpret_cast<void*>(word)) == 0;
}

void WorkerLinks::carry_out(ListenOrder& order) {
    bool ok = false;
    if (order.remove) {
        ok = tcp_->unlisten(order.port).ok();
    } else if (config_.worker < order.handlers.size()) {
        ok = tcp_->listen(order.port, order.handlers[config_.worker]).ok();
    }
    if (!ok)
        order.failed.fetch_add(1, std::memory_order_relaxed);
    // Release: the poster, seeing every worker done, also sees what they did.
    order.done.fetch_add(1, std::memory_order_release);
}

void WorkerLinks::request_refill(bool even_above_low_water) {
    if (refill_pending_ || config_.to_control == nullptr ||
        !(even_above_low_water || pool_.below_low_water())) {
        return;
    }
    const std::uintptr_t word = control_message::kRefillRequest | config_.worker;
    if (rte_ring_sp_enqueue(config_.to_control, reinterpret_cast<void*>(word)) == 0) {
        refill_pending_ = true;
    }
}

std::optional<tcp::LocalEndpoint> WorkerLinks::take_port(std::uint32_t remote_ip,
                                                         std::uint16_t remote_port) {
    const auto usable = [&](const tcp::LocalEndpoint& e) {
        if (tcp_ != nullptr && tcp_->has_listener(e.port))
            return false;
        if (config_.rss == nullptr)
            return true;
        // The peer's answers travel remote -> local: they must hash to our queue.
        return config_.rss->queue_of_return(
                   flow::FourTuple{e.ip, remote_ip, e.port, remote_port}) == config_.queue;
    };
    const auto taken = pool_.take(usable, kProbeLimit);
    if (taken) {
        if (const std::size_t b = block_of(*taken); b < block_free_.size())
            block_free_[b] -= 1;
    }
    // Nothing suited this destination: more ports may, whatever the pool's size says.
    request_refill(/*even_above_low_water=*/!taken.has_value());
    return taken;
}

void WorkerLinks::give_back_port(tcp::LocalEndpoint e) {
    pool_.add(e);
    const std::size_t b = block_of(e);
    if (b >= block_free_.size())
        return;
    block_free_[b] += 1;
    maybe_return_block(b);
}

bool WorkerLinks::steer(rte_mbuf* frame, const flow::FourTuple& tuple) {
    if (config_.ownership == nullptr)
        return false;
    const int owner = config_.ownership->owner_of(tuple.local_address(), tuple.local_port);
    if (owner < 0 || owner == config_.worker ||
        static_cast<std::size_t>(owner) >= config_.to_worker.size() ||
        config_.to_worker[static_cast<std::size_t>(owner)] == nullptr) {
        return false;
    }
    if (rte_ring_sp_enqueue(config_.to_worker[static_cast<std::size_t>(owner)], frame) != 0) {
        // The owner is behind: drop as the wire would; TCP retransmits.
        counters_.steering_ring_full += 1;
        rte_pktmbuf_free(frame);
        return true;
    }
    counters_.steered_out += 1;
    return true;
}

void WorkerLinks::share_arp(const rte_mbuf* frame) {
    for (rte_ring* ring : config_.to_worker) {
        if (ring == nullptr)
            continue;
        rte_mbuf* copy = rte_pktmbuf_copy(frame, config_.pool, 0, UINT32_MAX);
        if (copy == nullptr) {
            counters_.drop(DropReason::MbufExhausted);
            continue;
        }
        copy->packet_type = kArpCopy;
        if (rte_ring_sp_enqueue(ring, copy) != 0) {
            counters_.steering_ring_full += 1;
            rte_pktmbuf_free(copy);
            continue;
        }
        counters_.arp_shared_out += 1;
    }
}

}  // namespace sluice
