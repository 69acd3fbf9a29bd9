// A worker's connections by 4-tuple: an open-addressing index (open_addressing_index.hpp) gives
// each key a stable slot, and the slot indexes a preallocated array of entries, so a lookup is one
// hash, mostly one cache line of the index and then the entry itself, and nothing is allocated
// after start-up. Capacity is fixed; a full table is reported, not grown.
//
// The key is the entry's own `tuple` member: the index keeps only hashes and slots, and checks a
// candidate against the entry it would return. A free entry's tuple is the index's free-list link,
// not a key.
//
// The index replaced rte_hash after bench/flow_lookup_bench measured both: at 10^6 flows a hit
// costs 17.8-21.6 ns against rte_hash_lookup's 116.7 ns (42.7 ns in bursts of 32); see README.
//
// Not thread-safe: one per worker.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <sluice/four_tuple.hpp>
#include <sluice/result.hpp>
#include "dataplane/flow/flow_hash.hpp"
#include "dataplane/flow/open_addressing_index.hpp"

namespace sluice::flow {

template <typename Entry>
class FlowTable {
  public:
    // The index's keys are the entries' tuples.
    struct EntryKeys {
        Entry* entries;
        FourTuple& operator()(std::uint32_t slot) const { return entries[slot].tuple; }
    };
    using Index = OpenAddressingIndex<FlowHash, EntryKeys>;

    // `device_rss`, when not null, is the RSS the device was programmed with: the table then
    // hashes as the NIC does, and find_with_device_hash() takes the hash from the mbuf.
    static Result<std::unique_ptr<FlowTable>, std::string> create(
        const std::string& name, std::uint32_t capacity, const RssModel* device_rss = nullptr) {
        if (capacity == 0 || capacity > Index::kMaxCapacity) {
            return Unexpected{"cannot create the flow table '" + name + "' for " +
                              std::to_string(capacity) + " connections: not in [1, " +
                              std::to_string(Index::kMaxCapacity) + "]"};
        }
        std::vector<Entry> entries(capacity);
        auto index = Index::create(name, capacity, SOCKET_ID_ANY, FlowHash(device_rss),
                                   EntryKeys{entries.data()});
        if (!index) {
            return Unexpected{"cannot create the flow table '" + name + "' for " +
                              std::to_string(capacity) + " connections: " + index.error() +
                              " (lower the connection limit or give EAL more memory)"};
        }
        return std::unique_ptr<FlowTable>(
            new FlowTable(std::move(index.value()), capacity, std::move(entries)));
    }
    FlowTable(const FlowTable&) = delete;
    FlowTable& operator=(const FlowTable&) = delete;

    Entry* find(const FourTuple& key) {
        const std::uint32_t slot = index_->find(key);
        return slot == Index::kNoSlot ? nullptr : &entries_[slot];
    }
    // True when the table hashes keys as the device's RSS does (see FlowHash).
    bool uses_device_hash() const { return index_->hasher().is_device_hash(); }
    // As find(), with the hash the device computed for a received segment of `key`. Only for a
    // table that uses_device_hash().
    Entry* find_with_device_hash(const FourTuple& key, std::uint32_t device_hash) {
        const std::uint32_t slot = index_->find_with_hash(key, device_hash);
        return slot == Index::kNoSlot ? nullptr : &entries_[slot];
    }
    // The entry slot for a new `key`, as the previous occupant left it (the caller initialises it);
    // nullptr when the key exists or the table is full.
    Entry* insert(const FourTuple& key) {
        const std::uint32_t slot = index_->insert(key);
        return slot == Index::kNoSlot ? nullptr : &entries_[slot];
    }
    // Slots are stable for an entry's life: handles name them.
    std::uint32_t slot_of(const Entry& e) const {
        return static_cast<std::uint32_t>(&e - entries_.data());
    }
    Entry* at(std::uint32_t slot) { return slot < capacity_ ? &entries_[slot] : nullptr; }
    const Entry* at(std::uint32_t slot) const {
        return slot < capacity_ ? &entries_[slot] : nullptr;
    }
    std::size_t slots() const { return entries_.size(); }
    // By value: the key is usually the entry's own tuple, which the index overwrites.
    void erase(FourTuple key) { index_->erase(key); }
    std::uint32_t size() const { return index_->size(); }
    std::uint32_t capacity() const { return capacity_; }
    // Everything the table holds, allocated at start-up: the entries and the index.
    std::size_t memory_bytes() const {
        return entries_.size() * sizeof(Entry) + index_->memory_bytes();
    }

  private:
    FlowTable(std::unique_ptr<Index> index, std::uint32_t capacity, std::vector<Entry> entries)
        : index_(std::move(index)), capacity_(capacity), entries_(std::move(entries)) {}

    std::unique_ptr<Index> index_;
    std::uint32_t capacity_;
    std::vector<Entry> entries_;
};

}  // namespace sluice::flow
