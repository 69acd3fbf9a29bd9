// The bookkeeping the connection queues keep inside each mbuf, in one dynamic mbuf field
// (rte_mbuf_dyn.h) that both share: an mbuf is in at most one queue at a time. The send queue
// keeps its links, payload bounds and scoreboard marks there (send_queue.cpp); the receive queue
// keeps the out-of-order list's last mbuf and length in the list's first mbuf (receive_queue.cpp),
// so that neither needs a byte of the TCB for them.
#pragma once

#include <cstdint>
#include <string>

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include "dataplane/util/result.hpp"

namespace sluice::tcp {

struct SendEntry {
    rte_mbuf* next;
    std::uint16_t payload_offset;  // from buf_addr
    std::uint16_t payload_length;
    std::uint32_t sent_us;  // when its bytes last left (a microsecond stamp)
    bool fillable;          // ours alone and direct: later appends may write after the payload
    std::uint8_t marks;     // SendQueue's scoreboard bits
};

struct HeldListEntry {
    rte_mbuf* last;       // the list's last mbuf
    std::uint32_t count;  // mbufs in the list
};

union QueueField {
    SendEntry send;
    HeldListEntry held;
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
