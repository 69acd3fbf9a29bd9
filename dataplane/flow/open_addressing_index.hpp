// A purpose-built index from a connection's 4-tuple to a slot number, the alternative to the
// rte_hash behind FlowTable (bench/flow_lookup_bench.cpp measures the two against each other).
//
// Layout: one preallocated power-of-two array of 16-byte buckets, each a 12-byte key and a 4-byte
// slot, so four buckets share a cache line and a lookup usually touches one line. Collisions are
// resolved by linear probing: the next bucket is the next 16 bytes, usually in the cache line
// already fetched. The array has at least twice as many buckets as
// the index has slots, so the load factor never exceeds 0.5 and probe runs stay short (Knuth,
// TAOCP vol. 3, 6.4: about 1.5 probes for a hit and 2.5 for a miss at that load).
//
// Deletion shifts the rest of the probe run back (Knuth's Algorithm R) instead of leaving
// tombstones, so lookups never walk over dead buckets and the table does not degrade with churn
// (a busy server opens and closes connections all day).
//
// Like rte_hash, the index hands out the slots itself: insert() takes a free slot in
// [0, capacity) and erase() gives it back, so a FlowTable can keep using slots to index its entry
// array. Everything is allocated by create(); nothing is allocated afterwards.
//
// Not thread-safe: one per worker, like FlowTable.
#pragma once

#include <cassert>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_memory.h>
#include <rte_prefetch.h>

#include "dataplane/flow/four_tuple.hpp"
#include "dataplane/util/result.hpp"

namespace sluice::flow {

// CRC32-C of the key, one SSE4.2 instruction per 32-bit field. Not rte_hash_crc() over the bytes:
// that reads 8 bytes at a time through a uint64_t pointer, which is undefined (and flagged by
// UBSan) on a 4-byte-aligned FourTuple.
struct FourTupleCrcHash {
    std::uint32_t operator()(const FourTuple& key) const {
        std::uint32_t h = rte_hash_crc_4byte(key.local_ip, 0);
        h = rte_hash_crc_4byte(key.remote_ip, h);
        return rte_hash_crc_4byte(
            (std::uint32_t{key.local_port} << 16) | std::uint32_t{key.remote_port}, h);
    }
};

// `Hash` must be the function that any precomputed hash handed to the *_with_hash calls comes
// from. Deletion recomputes the hashes of the entries it moves, so the index must be able to
// compute it from the key alone: to reuse the NIC's RSS hash per packet, instantiate with a
// software Toeplitz hash of the tuple as the NIC sees it (rte_softrss); inserts and erases, once
// per connection, then pay for the software hash, and lookups, once per packet, do not.
template <typename Hash = FourTupleCrcHash>
class OpenAddressingIndex {
  public:
    // "No slot": a miss, a refused insert, or an empty bucket.
    static constexpr std::uint32_t kNoSlot = UINT32_MAX;
    // Twice this many buckets still fits the 32-bit hash's bit range (see home()).
    static constexpr std::uint32_t kMaxCapacity = 1U << 30;

    static Result<std::unique_ptr<OpenAddressingIndex>, std::string> create(
        const std::string& name, std::uint32_t capacity, int socket_id = SOCKET_ID_ANY,
        Hash hash = Hash{});

    ~OpenAddressingIndex() {
        rte_free(buckets_);
        rte_free(free_slots_);
    }
    OpenAddressingIndex(const OpenAddressingIndex&) = delete;
    OpenAddressingIndex& operator=(const OpenAddressingIndex&) = delete;

    std::uint32_t hash(const FourTuple& key) const { return hash_(key); }
    const Hash& hasher() const { return hash_; }

    // The slot of `key`, or kNoSlot.
    std::uint32_t find(const FourTuple& key) const { return find_with_hash(key, hash_(key)); }
    // As find(), with `hash` == hash(key) computed earlier (in a burst's hashing stage, or by
    // the NIC when Hash is its RSS function). A hash from another function makes a present key
    // look absent; it never yields another key's slot.
    std::uint32_t find_with_hash(const FourTuple& key, std::uint32_t hash) const {
        for (std::uint32_t i = home(hash);; i = next(i)) {
            const Bucket& b = buckets_[i];
            // A probe run always ends at an empty bucket: at most half of them are full.
            if (b.slot == kNoSlot)
                return kNoSlot;
            if (same_key(b.key, key))
                return b.slot;
        }
    }
    // Brings the key's home bucket towards the cache, so that a burst can start all its memory
    // accesses before it waits for the first (what rte_hash_lookup_bulk does inside).
    void prefetch(std::uint32_t hash) const { rte_prefetch0(&buckets_[home(hash)]); }

    // A free slot now bound to `key`; kNoSlot when `key` is already present (find() tells its
    // slot) or all slots are taken.
    std::uint32_t insert(const FourTuple& key) { return insert_with_hash(key, hash_(key)); }
    std::uint32_t insert_with_hash(const FourTuple& key, std::uint32_t hash) {
        assert(hash == hash_(key));
        std::uint32_t i = home(hash);
        for (; buckets_[i].slot != kNoSlot; i = next(i)) {
            if (same_key(buckets_[i].key, key))
                return kNoSlot;
        }
        if (free_count_ == 0)
            return kNoSlot;
        const std::uint32_t slot = free_slots_[--free_count_];
        buckets_[i] = Bucket{key, slot};
        return slot;
    }

    // The slot `key` held, now free; kNoSlot when `key` was not present.
    std::uint32_t erase(const FourTuple& key) { return erase_with_hash(key, hash_(key)); }
    std::uint32_t erase_with_hash(const FourTuple& key, std::uint32_t hash) {
        assert(hash == hash_(key));
        std::uint32_t hole = home(hash);
        for (;; hole = next(hole)) {
            if (buckets_[hole].slot == kNoSlot)
                return kNoSlot;
            if (same_key(buckets_[hole].key, key))
                break;
        }
        const std::uint32_t slot = buckets_[hole].slot;
        free_slots_[free_count_++] = slot;
        // Backward shift (Knuth, Algorithm R): every later entry of the run must stay reachable
        // from its home bucket without crossing an empty bucket. An entry may move back into the
        // hole when the hole lies cyclically in [its home, its position); it then leaves a hole of
        // its own. Entries whose home lies after the hole stay, and the scan goes on past them.
        for (std::uint32_t j = next(hole); buckets_[j].slot != kNoSlot; j = next(j)) {
            const std::uint32_t from_home = (j - home(hash_(buckets_[j].key))) & mask_;
            const std::uint32_t from_hole = (j - hole) & mask_;
            if (from_home >= from_hole) {
                buckets_[hole] = buckets_[j];
                hole = j;
            }
        }
        buckets_[hole].slot = kNoSlot;
        return slot;
    }

    std::uint32_t size() const { return capacity_ - free_count_; }
    std::uint32_t capacity() const { return capacity_; }
    // Slots are in [0, slots()): the size of an entry array indexed by them.
    std::uint32_t slots() const { return capacity_; }
    std::uint32_t buckets() const { return mask_ + 1; }
    // What create() allocated: the buckets and the free-slot stack.
    std::size_t memory_bytes() const {
        return std::size_t{buckets()} * sizeof(Bucket) + std::size_t{capacity_} * sizeof(std::uint32_t);
    }
    // Where a key with this hash starts probing; for tests that build collisions on purpose.
    std::uint32_t home(std::uint32_t hash) const { return hash >> shift_; }

  private:
    struct Bucket {
        FourTuple key;
        std::uint32_t slot;  // kNoSlot: empty
    };
    static_assert(sizeof(Bucket) == 16, "four buckets to a cache line, none straddling two");

    OpenAddressingIndex(Bucket* buckets, std::uint32_t* free_slots, std::uint32_t capacity,
                        unsigned bucket_bits, Hash hash)
        : buckets_(buckets),
          free_slots_(free_slots),
          hash_(std::move(hash)),
          capacity_(capacity),
          free_count_(capacity),
          mask_(static_cast<std::uint32_t>((std::uint64_t{1} << bucket_bits) - 1)),
          shift_(32 - bucket_bits) {}

    std::uint32_t next(std::uint32_t i) const { return (i + 1) & mask_; }
    // Byte comparison: the key is packed, and two wide loads beat four field compares.
    static bool same_key(const FourTuple& a, const FourTuple& b) {
        return std::memcmp(&a, &b, sizeof(FourTuple)) == 0;
    }

    Bucket* buckets_;
    std::uint32_t* free_slots_;  // a stack: the slot freed last is reused first, still cached
    [[no_unique_address]] Hash hash_;
    std::uint32_t capacity_;
    std::uint32_t free_count_;
    std::uint32_t mask_;
    // The home bucket is the hash's *high* bits. A NIC picks the receive queue from the RSS hash's
    // low bits (the redirection table), so on one worker those bits are nearly constant; indexing
    // by them would fill a fraction of the buckets and make long probe runs.
    unsigned shift_;
};

template <typename Hash>
Result<std::unique_ptr<OpenAddressingIndex<Hash>>, std::string> OpenAddressingIndex<Hash>::create(
    const std::string& name, std::uint32_t capacity, int socket_id, Hash hash) {
    if (capacity == 0 || capacity > kMaxCapacity) {
        return Unexpected{"flow index '" + name + "': capacity " + std::to_string(capacity) +
                          " is not in [1, " + std::to_string(kMaxCapacity) + "]"};
    }
    // The smallest power of two >= 2 * capacity: load factor <= 0.5 even when every slot is
    // taken. At least two buckets, so that the shift in home() stays below 32.
    unsigned bucket_bits = 1;
    while ((std::uint64_t{1} << bucket_bits) < std::uint64_t{2} * capacity)
        ++bucket_bits;
    const std::size_t bucket_count = std::size_t{1} << bucket_bits;

    // From the EAL heap, as rte_hash is: hugepages and the worker's NUMA node in production.
    auto* buckets = static_cast<Bucket*>(rte_malloc_socket(
        name.c_str(), bucket_count * sizeof(Bucket), RTE_CACHE_LINE_SIZE, socket_id));
    auto* free_slots = static_cast<std::uint32_t*>(
        rte_malloc_socket(name.c_str(), std::size_t{capacity} * sizeof(std::uint32_t),
                          RTE_CACHE_LINE_SIZE, socket_id));
    if (buckets == nullptr || free_slots == nullptr) {
        rte_free(buckets);
        rte_free(free_slots);
        return Unexpected{"cannot allocate the flow index '" + name + "' for " +
                          std::to_string(capacity) + " connections (" +
                          std::to_string(bucket_count * sizeof(Bucket) >> 20) +
                          " MiB): " + rte_strerror(rte_errno) +
                          " (lower the connection limit or give EAL more memory)"};
    }
    for (std::size_t i = 0; i < bucket_count; ++i)
        buckets[i] = Bucket{FourTuple{}, kNoSlot};
    // Popped from the top: slot 0 is handed out first.
    for (std::uint32_t i = 0; i < capacity; ++i)
        free_slots[i] = capacity - 1 - i;
    return std::unique_ptr<OpenAddressingIndex>(
        new OpenAddressingIndex(buckets, free_slots, capacity, bucket_bits, std::move(hash)));
}

}  // namespace sluice::flow
