// A purpose-built index from a connection's 4-tuple to a slot number, the alternative to the
// rte_hash behind FlowTable (bench/flow_lookup_bench.cpp measures the two against each other).
//
// Layout: one preallocated array of 4-byte buckets, sixteen to a cache line, each a key's slot
// (25 bits) and a 7-bit tag drawn from its hash. The keys themselves live with the slots (`Keys`):
// a FlowTable keeps them in its entries, where a hit has to look anyway (the TCB starts with its
// 4-tuple), so the index costs 4 bytes per bucket rather than 16, and ten million connections
// stay inside their memory budget. A probe compares tags first, so a miss reads a key only once
// in 128 buckets it passes, and a hit reads the one key whose tag matched (almost always). Four
// bytes rather than eight (the whole hash) halve the array a random lookup lands in: at 10^6
// flows it is 8 MiB, which the TLB of 4 KiB pages covers far better than 16.
//
// Collisions are resolved by linear probing: the next bucket is the next 4 bytes, usually in the
// cache line already fetched. There are exactly twice as many buckets as slots (not a power of
// two: a hash picks its home by multiplication, Lemire's "fastrange"), so the load factor never
// exceeds 0.5 and probe runs stay short (Knuth, TAOCP vol. 3, 6.4: about 1.5 probes for a hit and
// 2.5 for a miss at that load).
//
// Deletion shifts the rest of the probe run back (Knuth's Algorithm R) instead of leaving
// tombstones, so lookups never walk over dead buckets and the table does not degrade with churn
// (a busy server opens and closes connections all day). It needs each moved entry's home, which
// it hashes again from the entry's key: once per connection closed, about one entry each.
//
// Like rte_hash, the index hands out the slots itself: insert() takes a free slot in
// [0, capacity) and erase() gives it back, so a FlowTable can keep using slots to index its entry
// array. Free slots are chained through their keys, which a free slot does not need, so the free
// list costs nothing. Everything is allocated by create(); nothing is allocated afterwards.
//
// Not thread-safe: one per worker, like FlowTable.
#pragma once

#include <cassert>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_memory.h>
#include <rte_prefetch.h>

#include <sluice/four_tuple.hpp>
#include <sluice/result.hpp>

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

// The keys of an index that stands alone (its tests and benchmarks): an array of its own.
class OwnKeys {
  public:
    static Result<OwnKeys, std::string> create(const std::string& name, std::uint32_t capacity,
                                               int socket_id) {
        auto* keys = static_cast<FourTuple*>(
            rte_zmalloc_socket(name.c_str(), std::size_t{capacity} * sizeof(FourTuple),
                               RTE_CACHE_LINE_SIZE, socket_id));
        if (keys == nullptr) {
            return Unexpected{"cannot allocate the keys of '" + name +
                              "': " + std::string(rte_strerror(rte_errno))};
        }
        return OwnKeys(keys, capacity);
    }
    OwnKeys(OwnKeys&& other) noexcept
        : keys_(std::exchange(other.keys_, nullptr)), count_(other.count_) {}
    OwnKeys& operator=(OwnKeys&&) = delete;
    ~OwnKeys() { rte_free(keys_); }

    FourTuple& operator()(std::uint32_t slot) const { return keys_[slot]; }
    std::size_t memory_bytes() const { return std::size_t{count_} * sizeof(FourTuple); }

  private:
    OwnKeys(FourTuple* keys, std::uint32_t count) : keys_(keys), count_(count) {}
    FourTuple* keys_;
    std::uint32_t count_;
};

// `Hash` must be the function that any precomputed hash handed to the *_with_hash calls comes
// from. To reuse the NIC's RSS hash per packet, instantiate with a software Toeplitz hash of the
// tuple as the NIC sees it (rte_softrss): inserts, once per connection, then pay for the software
// hash, and lookups, once per packet, do not.
//
// `Keys` maps a slot to the FourTuple stored for it, as a reference the index may write: insert()
// stores the key there, and a free slot's key holds the free list's link.
template <typename Hash = FourTupleCrcHash, typename Keys = OwnKeys>
class OpenAddressingIndex {
  public:
    // "No slot": a miss or a refused insert.
    static constexpr std::uint32_t kNoSlot = UINT32_MAX;
    // Slots take a bucket's low 25 bits, and the highest of them marks an empty bucket.
    static constexpr std::uint32_t kMaxCapacity = (1U << 25) - 1;

    static Result<std::unique_ptr<OpenAddressingIndex>, std::string> create(
        const std::string& name, std::uint32_t capacity, int socket_id = SOCKET_ID_ANY,
        Hash hash = Hash{}, Keys keys = Keys{}) requires(!std::is_same_v<Keys, OwnKeys>);
    static Result<std::unique_ptr<OpenAddressingIndex>, std::string> create(
        const std::string& name, std::uint32_t capacity, int socket_id = SOCKET_ID_ANY,
        Hash hash = Hash{}) requires std::is_same_v<Keys, OwnKeys>;

    ~OpenAddressingIndex() { rte_free(buckets_); }
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
        const std::uint32_t tag = tag_of(hash);
        for (std::uint32_t i = home(hash);; i = next(i)) {
            const Bucket b = buckets_[i];
            // A probe run always ends at an empty bucket: at most half of them are full.
            if (b == kEmpty)
                return kNoSlot;
            if (tag_in(b) == tag && same_key(keys_(slot_in(b)), key))
                return slot_in(b);
        }
    }
    // Brings the key's home bucket towards the cache, so that a burst can start all its memory
    // accesses before it waits for the first (what rte_hash_lookup_bulk does inside).
    void prefetch(std::uint32_t hash) const { rte_prefetch0(&buckets_[home(hash)]); }
    // A burst's second stage, once prefetch() has brought the home bucket: brings the key of the
    // first bucket in the run whose tag matches (the one a hit will almost always compare).
    void prefetch_key(std::uint32_t hash) const {
        const std::uint32_t tag = tag_of(hash);
        for (std::uint32_t i = home(hash);; i = next(i)) {
            const Bucket b = buckets_[i];
            if (b == kEmpty)
                return;
            if (tag_in(b) == tag) {
                rte_prefetch0(&keys_(slot_in(b)));
                return;
            }
        }
    }

    // A free slot now bound to `key`; kNoSlot when `key` is already present (find() tells its
    // slot) or all slots are taken.
    std::uint32_t insert(const FourTuple& key) { return insert_with_hash(key, hash_(key)); }
    std::uint32_t insert_with_hash(const FourTuple& key, std::uint32_t hash) {
        assert(hash == hash_(key));
        const std::uint32_t tag = tag_of(hash);
        std::uint32_t i = home(hash);
        for (; buckets_[i] != kEmpty; i = next(i)) {
            if (tag_in(buckets_[i]) == tag && same_key(keys_(slot_in(buckets_[i])), key))
                return kNoSlot;
        }
        if (free_head_ == kNoSlot)
            return kNoSlot;
        const std::uint32_t slot = free_head_;
        free_head_ = free_link(slot);
        keys_(slot) = key;
        buckets_[i] = tag << kSlotBits | slot;
        ++size_;
        return slot;
    }

    // The slot `key` held, now free; kNoSlot when `key` was not present.
    std::uint32_t erase(const FourTuple& key) { return erase_with_hash(key, hash_(key)); }
    std::uint32_t erase_with_hash(const FourTuple& key, std::uint32_t hash) {
        assert(hash == hash_(key));
        const std::uint32_t tag = tag_of(hash);
        std::uint32_t hole = home(hash);
        for (;; hole = next(hole)) {
            const Bucket b = buckets_[hole];
            if (b == kEmpty)
                return kNoSlot;
            if (tag_in(b) == tag && same_key(keys_(slot_in(b)), key))
                break;
        }
        const std::uint32_t slot = slot_in(buckets_[hole]);
        // Pushed on the free list: the slot freed last is reused first, still cached.
        keys_(slot) = FourTuple{free_head_, 0, 0, 0};
        free_head_ = slot;
        --size_;
        // Backward shift (Knuth, Algorithm R): every later entry of the run must stay reachable
        // from its home bucket without crossing an empty bucket. An entry may move back into the
        // hole when the hole lies cyclically in [its home, its position); it then leaves a hole of
        // its own. Entries whose home lies after the hole stay, and the scan goes on past them.
        for (std::uint32_t j = next(hole); buckets_[j] != kEmpty; j = next(j)) {
            const std::uint32_t from_home = distance(home(hash_(keys_(slot_in(buckets_[j])))), j);
            const std::uint32_t from_hole = distance(hole, j);
            if (from_home >= from_hole) {
                buckets_[hole] = buckets_[j];
                hole = j;
            }
        }
        buckets_[hole] = kEmpty;
        return slot;
    }

    std::uint32_t size() const { return size_; }
    std::uint32_t capacity() const { return capacity_; }
    // Slots are in [0, slots()): the size of an entry array indexed by them.
    std::uint32_t slots() const { return capacity_; }
    std::uint32_t buckets() const { return bucket_count_; }
    // What create() allocated: the buckets (and the keys, when the index keeps its own).
    std::size_t memory_bytes() const {
        std::size_t bytes = std::size_t{bucket_count_} * sizeof(Bucket);
        if constexpr (std::is_same_v<Keys, OwnKeys>)
            bytes += keys_.memory_bytes();
        return bytes;
    }
    // Where a key with this hash starts probing; for tests that build collisions on purpose. The
    // hash's *high* bits choose: a NIC picks the receive queue from the RSS hash's low bits (the
    // redirection table), so on one worker those bits are nearly constant; indexing by them would
    // fill a fraction of the buckets and make long probe runs.
    std::uint32_t home(std::uint32_t hash) const {
        return static_cast<std::uint32_t>((std::uint64_t{hash} * bucket_count_) >> 32);
    }

    // The 7 bits of a hash a bucket keeps, to pass most other keys without reading them. Not the
    // hash's own low bits: with a NIC's RSS hash, a worker's packets share the bits that chose
    // its queue (the redirection table's index). Nor its high bits, which chose the home, so all
    // keys of one probe run have nearly the same. A multiplicative mix makes the top 7 bits of the
    // product depend on every bit of the hash.
    static std::uint32_t tag_of(std::uint32_t hash) { return (hash * 0x9e3779b1U) >> kSlotBits; }

  private:
    // tag << kSlotBits | slot; kEmpty (all ones) when the bucket is free.
    using Bucket = std::uint32_t;
    static constexpr unsigned kSlotBits = 25;
    static constexpr Bucket kSlotMask = (Bucket{1} << kSlotBits) - 1;
    static constexpr Bucket kEmpty = UINT32_MAX;
    static_assert(kMaxCapacity == kSlotMask, "the highest slot value is kEmpty's, never a slot");
    static std::uint32_t slot_in(Bucket b) { return b & kSlotMask; }
    static std::uint32_t tag_in(Bucket b) { return b >> kSlotBits; }

    OpenAddressingIndex(Bucket* buckets, std::uint32_t capacity, Hash hash, Keys keys)
        : buckets_(buckets),
          keys_(std::move(keys)),
          hash_(std::move(hash)),
          capacity_(capacity),
          bucket_count_(2 * capacity) {
        // Popped from the front: slot 0 is handed out first.
        for (std::uint32_t slot = capacity; slot-- > 0;) {
            keys_(slot) = FourTuple{free_head_, 0, 0, 0};
            free_head_ = slot;
        }
    }

    std::uint32_t next(std::uint32_t i) const { return i + 1 == bucket_count_ ? 0 : i + 1; }
    // How many buckets forward `to` lies from `from`, cyclically.
    std::uint32_t distance(std::uint32_t from, std::uint32_t to) const {
        return to >= from ? to - from : to + bucket_count_ - from;
    }
    std::uint32_t free_link(std::uint32_t slot) const { return keys_(slot).local_ip; }
    // Byte comparison: the key is packed, and two wide loads beat four field compares.
    static bool same_key(const FourTuple& a, const FourTuple& b) {
        return std::memcmp(&a, &b, sizeof(FourTuple)) == 0;
    }

    Bucket* buckets_;
    Keys keys_;
    [[no_unique_address]] Hash hash_;
    std::uint32_t capacity_;
    std::uint32_t bucket_count_;
    std::uint32_t size_ = 0;
    std::uint32_t free_head_ = kNoSlot;  // a stack chained through free slots' keys
};

namespace detail {
// The buckets, all empty, from the EAL heap as rte_hash's are: hugepages and the worker's NUMA
// node in production.
template <typename Bucket>
Result<Bucket*, std::string> allocate_buckets(const std::string& name, std::uint32_t capacity,
                                              std::uint32_t max_capacity, int socket_id) {
    if (capacity == 0 || capacity > max_capacity) {
        return Unexpected{"flow index '" + name + "': capacity " + std::to_string(capacity) +
                          " is not in [1, " + std::to_string(max_capacity) + "]"};
    }
    const std::size_t bucket_count = std::size_t{2} * capacity;
    auto* buckets = static_cast<Bucket*>(rte_malloc_socket(
        name.c_str(), bucket_count * sizeof(Bucket), RTE_CACHE_LINE_SIZE, socket_id));
    if (buckets == nullptr) {
        return Unexpected{"cannot allocate the flow index '" + name + "' for " +
                          std::to_string(capacity) + " connections (" +
                          std::to_string(bucket_count * sizeof(Bucket) >> 20) +
                          " MiB): " + rte_strerror(rte_errno) +
                          " (lower the connection limit or give EAL more memory)"};
    }
    std::memset(static_cast<void*>(buckets), 0xff, bucket_count * sizeof(Bucket));  // all empty
    return buckets;
}
}  // namespace detail

template <typename Hash, typename Keys>
Result<std::unique_ptr<OpenAddressingIndex<Hash, Keys>>, std::string>
OpenAddressingIndex<Hash, Keys>::create(const std::string& name, std::uint32_t capacity,
                                        int socket_id, Hash hash,
                                        Keys keys) requires(!std::is_same_v<Keys, OwnKeys>) {
    auto buckets = detail::allocate_buckets<Bucket>(name, capacity, kMaxCapacity, socket_id);
    if (!buckets)
        return Unexpected{buckets.error()};
    return std::unique_ptr<OpenAddressingIndex>(
        new OpenAddressingIndex(buckets.value(), capacity, std::move(hash), std::move(keys)));
}

template <typename Hash, typename Keys>
Result<std::unique_ptr<OpenAddressingIndex<Hash, Keys>>, std::string>
OpenAddressingIndex<Hash, Keys>::create(const std::string& name, std::uint32_t capacity,
                                        int socket_id,
                                        Hash hash) requires std::is_same_v<Keys, OwnKeys> {
    auto buckets = detail::allocate_buckets<Bucket>(name, capacity, kMaxCapacity, socket_id);
    if (!buckets)
        return Unexpected{buckets.error()};
    auto keys = OwnKeys::create(name + "_keys", capacity, socket_id);
    if (!keys) {
        rte_free(buckets.value());
        return Unexpected{keys.error()};
    }
    return std::unique_ptr<OpenAddressingIndex>(new OpenAddressingIndex(
        buckets.value(), capacity, std::move(hash), std::move(keys).value()));
}

}  // namespace sluice::flow
