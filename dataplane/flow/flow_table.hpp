// A worker's connections by 4-tuple. An rte_hash gives each key a stable position, and that
// position indexes a preallocated array of entries, so a lookup is one hash probe and nothing is
// allocated after start-up. Capacity is fixed; a full table is reported, not grown.
//
// Not thread-safe: one per worker.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <rte_hash.h>

#include "dataplane/flow/four_tuple.hpp"
#include "dataplane/util/result.hpp"

namespace sluice::flow {

template <typename Entry>
class FlowTable {
public:
    static Result<std::unique_ptr<FlowTable>, std::string> create(const std::string& name,
                                                                  std::uint32_t capacity);
    ~FlowTable() { rte_hash_free(index_); }
    FlowTable(const FlowTable&) = delete;
    FlowTable& operator=(const FlowTable&) = delete;

    Entry* find(const FourTuple& key) {
        const std::int32_t pos = rte_hash_lookup(index_, &key);
        return pos < 0 ? nullptr : &entries_[static_cast<std::size_t>(pos)];
    }
    // The entry slot for a new `key`, as the previous occupant left it (the caller initialises it);
    // nullptr when the key exists or the table is full.
    Entry* insert(const FourTuple& key) {
        if (rte_hash_lookup(index_, &key) >= 0) return nullptr;
        const std::int32_t pos = rte_hash_add_key(index_, &key);
        if (pos < 0) return nullptr;
        ++size_;
        return &entries_[static_cast<std::size_t>(pos)];
    }
    // Slots are stable for an entry's life: handles name them.
    std::uint32_t slot_of(const Entry& e) const {
        return static_cast<std::uint32_t>(&e - entries_.data());
    }
    Entry* at(std::uint32_t slot) {
        return slot < entries_.size() ? &entries_[slot] : nullptr;
    }
    std::size_t slots() const { return entries_.size(); }
    void erase(const FourTuple& key) {
        if (rte_hash_del_key(index_, &key) >= 0) --size_;
    }
    std::uint32_t size() const { return size_; }
    std::uint32_t capacity() const { return capacity_; }


private:
    FlowTable(rte_hash* index, std::uint32_t capacity)
        : index_(index),
          capacity_(capacity),
          entries_(static_cast<std::size_t>(rte_hash_max_key_id(index)) + 1) {}

    rte_hash* index_;
    std::uint32_t capacity_;
    std::uint32_t size_ = 0;
    std::vector<Entry> entries_;
};

rte_hash* create_flow_index(const std::string& name, std::uint32_t capacity, std::string& error);

template <typename Entry>
Result<std::unique_ptr<FlowTable<Entry>>, std::string> FlowTable<Entry>::create(
    const std::string& name, std::uint32_t capacity) {
    std::string error;
    rte_hash* index = create_flow_index(name, capacity, error);
    if (index == nullptr) return Unexpected{error};
    return std::unique_ptr<FlowTable>(new FlowTable(index, capacity));
}

}  // namespace sluice::flow
