// A connection's outgoing bytes from SND.UNA on: sent-but-unacknowledged, then not yet sent. Held
// in mbufs from the worker's pool, linked through `next`, each one segment of the stream. Acked
// bytes are trimmed from the front; a cursor keeps sequential reads for transmission O(1).
//
// Not thread-safe: owned by one connection on one worker.
#pragma once

#include <cstdint>
#include <span>

#include <rte_mbuf.h>
#include <rte_mempool.h>

namespace sluice::tcp {

class SendQueue {
  public:
    SendQueue() = default;
    SendQueue(const SendQueue&) = delete;
    SendQueue& operator=(const SendQueue&) = delete;
    ~SendQueue() { clear(); }

    std::uint32_t size() const { return bytes_; }
    bool empty() const { return bytes_ == 0; }

    // Copies as much of `data` as `room` allows into mbufs from `pool`; returns the bytes taken,
    // fewer than asked when the room or the pool runs out.
    std::uint32_t append_copy(std::span<const std::byte> data, std::uint32_t room,
                              rte_mempool* pool);
    // Takes a whole chain without copying (zero-copy send); its segments join the queue as they
    // are.
    void append_chain(rte_mbuf* chain);
    // Drops `n` acknowledged bytes from the front.
    void consume(std::uint32_t n);
    // Copies `length` bytes starting `offset` bytes after the front into `out`.
    void copy_out(std::uint32_t offset, std::uint32_t length, std::byte* out);
    void clear();

  private:
    void link(rte_mbuf* segment);

    // Pointers first, then the counts: 32 bytes with no padding (one in every TCB).
    rte_mbuf* head_ = nullptr;
    rte_mbuf* tail_ = nullptr;
    rte_mbuf* cursor_ = nullptr;  // a segment at or before the last read position
    std::uint32_t bytes_ = 0;
    std::uint32_t cursor_offset_ = 0;  // stream offset of cursor_'s first byte
};

}  // namespace sluice::tcp
