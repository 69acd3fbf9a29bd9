// The bookkeeping the connection queues keep inside each mbuf, in one dynamic mbuf field
// (rte_mbuf_dyn.h) that both share: an mbuf is in at most one queue at a time. The send queue
// keeps its links, payload bounds and scoreboard marks there (send_queue.cpp); the receive queue
// keeps the links of its out-of-order search tree there, and the tree's size in its root
// (receive_queue.cpp), so that neither needs a byte of the TCB for them.
#pragma once

#include <cstdint>
#include <string>

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include <sluice/result.hpp>

namespace sluice::tcp {

struct SendEntry {
    rte_mbuf* next;
    std::uint16_t payload_offset;  // from buf_addr
    std::uint16_t payload_length;
    std::uint32_t sent_us;  // when its bytes last left (a microsecond stamp)
    bool fillable;          // ours alone and direct: later appends may write after the payload
    std::uint8_t marks;     // SendQueue's scoreboard bits
};

// A segment held out of order: a node of the receive queue's treap (receive_queue.cpp), keyed by
// its sequence number. `count` is meaningful in the root only: the segments held.
struct HeldNode {
    rte_mbuf* left;
    rte_mbuf* right;
    std::uint32_t count;
};

union QueueField {
    SendEntry send;
    HeldNode held;
};

// Once per process, before any queue is used (TcpStack::create calls it). Idempotent.
Status<std::string> register_queue_field();

namespace detail {
extern int g_queue_field;
}

inline QueueField& queue_field(rte_mbuf* m) {
    return *RTE_MBUF_DYNFIELD(m, detail::g_queue_field, QueueField*);
}

}  // namespace sluice::tcp
