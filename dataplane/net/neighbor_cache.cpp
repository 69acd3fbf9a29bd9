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
      entries_(static_cast<std::size_t>(rte_hash_max_key_id(index)) + 1),
      pool_(config.held_capacity) {
    for (std::uint32_t i = config.held_capacity; i > 0; --i) {
        pool_[i - 1].next = free_;
        free_ = i - 1;
    }
}

NeighborCache::~NeighborCache() {
    for (Entry& e : entries_) {
        if (e.state != State::Free)
            release_held(e, /*transmit=*/false);
    }
    drop_list(ready_);
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
    if (entry.held.head == kNone)
        return;
    if (!transmit) {
        drop_list(entry.held);
        return;
    }
    for (std::uint32_t i = entry.held.head; i != kNone; i = pool_[i].next)
        pool_[i].next_hop = entry.mac;
    // Appended whole: what resolved earlier leaves first.
    if (ready_.head == kNone) {
        ready_.head = entry.held.head;
    } else {
        pool_[ready_.tail].next = entry.held.head;
    }
    ready_.tail = entry.held.tail;
    entry.held = HeldList{};
}

void NeighborCache::drop_list(HeldList& list) {
    for (std::uint32_t i = list.head; i != kNone;) {
        const std::uint32_t next = pool_[i].next;
        events_.drop_unresolved(pool_[i].packet);
        give_back(i);
        i = next;
    }
    list = HeldList{};
}

void NeighborCache::give_back(std::uint32_t i) {
    pool_[i] = Held{nullptr, free_, {}};
    free_ = i;
    --held_count_;
}

void NeighborCache::release_ready(std::uint32_t budget) {
    while (ready_.head != kNone && budget-- > 0) {
        const std::uint32_t i = ready_.head;
        Held& h = pool_[i];
        ready_.head = h.next;
        if (ready_.head == kNone)
            ready_.tail = kNone;
        rte_mbuf* packet = h.packet;
        const wire::MacAddress next_hop = h.next_hop;
        give_back(i);
        events_.transmit_held(packet, next_hop);
    }
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
        release_ready(kReleasedPerTurn);
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
    if (free_ == kNone)
        return HoldOutcome::QueueFull;
    const std::uint32_t i = free_;
    free_ = pool_[i].next;
    pool_[i] = Held{packet, kNone, {}};
    ++held_count_;
    if (e->held.head == kNone) {
        e->held.head = i;
    } else {
        pool_[e->held.tail].next = i;
    }
    e->held.tail = i;
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
