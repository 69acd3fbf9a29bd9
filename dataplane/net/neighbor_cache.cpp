#include "dataplane/net/neighbor_cache.hpp"

#include <rte_errno.h>
#include <rte_jhash.h>

namespace sluice {

namespace {
std::uint32_t key_of(wire::Ipv4Address ip) {
    return ip.host();
}
}  // namespace

Result<std::unique_ptr<NeighborCache>, std::string> NeighborCache::create(
    const std::string& name, const NeighborConfig& config, NeighborEvents& events) {
    if (config.capacity < 8) {
        return Unexpected{"neighbor cache capacity must be at least 8, got " +
                          std::to_string(config.capacity)};
    }
    rte_hash_parameters params{};
    params.name = name.c_str();
    params.entries = config.capacity;
    params.key_len = sizeof(std::uint32_t);
    params.hash_func = rte_jhash;
    params.socket_id = SOCKET_ID_ANY;
    rte_hash* index = rte_hash_create(&params);
    if (index == nullptr) {
        return Unexpected{"cannot create neighbor table '" + name +
                          "': " + rte_strerror(rte_errno)};
    }
    return std::unique_ptr<NeighborCache>(new NeighborCache(index, config, events));
}

NeighborCache::NeighborCache(rte_hash* index, const NeighborConfig& config, NeighborEvents& events)
    : index_(index),
      config_(config),
      events_(events),
      // rte_hash may hand out positions up to its own (rounded-up) capacity.
      entries_(static_cast<std::size_t>(rte_hash_max_key_id(index)) + 1) {}

NeighborCache::~NeighborCache() {
    for (Entry& e : entries_) {
        if (e.state != State::Free)
            release_held(e, /*transmit=*/false);
    }
    rte_hash_free(index_);
}

NeighborCache::Entry* NeighborCache::find(wire::Ipv4Address ip) const {
    const std::uint32_t key = key_of(ip);
    const std::int32_t pos = rte_hash_lookup(index_, &key);
    if (pos < 0)
        return nullptr;
    return const_cast<Entry*>(&entries_[static_cast<std::size_t>(pos)]);
}

NeighborCache::Entry* NeighborCache::insert(wire::Ipv4Address ip) {
    const std::uint32_t key = key_of(ip);
    const std::int32_t pos = rte_hash_add_key(index_, &key);
    if (pos < 0)
        return nullptr;
    Entry& e = entries_[static_cast<std::size_t>(pos)];
    e = Entry{};
    e.ip = ip;
    ++used_;
    return &e;
}

void NeighborCache::remove(Entry& entry) {
    const std::uint32_t key = key_of(entry.ip);
    rte_hash_del_key(index_, &key);
    entry.state = State::Free;
    --used_;
}

void NeighborCache::release_held(Entry& entry, bool transmit) {
    for (std::uint8_t i = 0; i < entry.held_count; ++i) {
        if (transmit) {
            events_.transmit_held(entry.held[i], entry.mac);
        } else {
            events_.drop_unresolved(entry.held[i]);
        }
        entry.held[i] = nullptr;
    }
    entry.held_count = 0;
}

const wire::MacAddress* NeighborCache::lookup(wire::Ipv4Address ip, Nanos now) const {
    // Most packets go to the same next hop as the one before (the gateway, or the one peer of a
    // benchmark): remember it instead of hashing again. An entry freed or given to another
    // address since no longer matches, and is looked up afresh.
    const Entry* e = last_found_;
    if (e == nullptr || e->ip != ip || e->state == State::Free) {
        e = find(ip);
        last_found_ = e;
    }
    if (e == nullptr || e->state != State::Reachable || now >= e->deadline)
        return nullptr;
    return &e->mac;
}

void NeighborCache::learn(wire::Ipv4Address ip, const wire::MacAddress& mac, Nanos now,
                          bool create) {
    Entry* e = find(ip);
    if (e == nullptr) {
        if (!create)
            return;
        e = insert(ip);
        if (e == nullptr)
            return;  // full: the next packet for it will ask again
    }
    const bool was_waiting = e->state == State::Incomplete;
    e->mac = mac;
    e->state = State::Reachable;
    e->requests_sent = 0;
    e->deadline = now + config_.reachable_time;
    if (was_waiting) {
        ++counts_.resolved;
        release_held(*e, /*transmit=*/true);
    }
}

NeighborCache::HoldOutcome NeighborCache::hold(wire::Ipv4Address ip, rte_mbuf* packet, Nanos now) {
    Entry* e = find(ip);
    bool fresh = false;
    if (e == nullptr) {
        e = insert(ip);
        if (e == nullptr)
            return HoldOutcome::TableFull;
        fresh = true;
    }
    if (e->state != State::Incomplete) {
        // New, or a stale answer being asked again.
        e->state = State::Incomplete;
        e->requests_sent = 1;
        e->deadline = now + config_.retry_interval;
        fresh = true;
    }
    if (e->held_count == kMaxHeldPerEntry)
        return HoldOutcome::QueueFull;
    e->held[e->held_count++] = packet;
    return fresh ? HoldOutcome::QueuedNewEntry : HoldOutcome::Queued;
}

void NeighborCache::poll(Nanos now) {
    if (used_ == 0)
        return;
    for (Entry& e : entries_) {
        if (e.state == State::Free || now < e.deadline)
            continue;
        if (e.state == State::Reachable) {
            ++counts_.expired;
            remove(e);
        } else if (e.requests_sent >= config_.max_requests) {
            release_held(e, /*transmit=*/false);
            remove(e);
        } else {
            ++e.requests_sent;
            e.deadline = now + config_.retry_interval;
            events_.send_arp_request(e.ip);
        }
    }
}

}  // namespace sluice
