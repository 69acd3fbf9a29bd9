// The receiver's half of a connection: RFC 9293 3.10.7.4's seventh and eighth steps (text and
// FIN), with reassembly (receive_queue.hpp), the ACK policy (delayed, per burst, or at once), and
// what the SACK blocks we send are made of (output.cpp writes them: fill_sack_blocks()).
#include <algorithm>

#include "dataplane/tcp/tcp_stack.hpp"

namespace sluice::tcp {

using namespace wire::tcp_flag;

namespace {
// The most in-order data one held ACK covers (burst_acks.hpp): Linux's GRO limit.
constexpr std::uint32_t kMaxBurstAckBytes = 64 * 1024;
}  // namespace

void TcpStack::note_out_of_order(const Tcb& t, SeqNum seq) {
    recent_out_of_order_ = RecentSegment{flows_->slot_of(t), t.generation, seq};
}

void TcpStack::note_duplicate(const Tcb& t, SeqNum left, SeqNum right) {
    if (t.sack_ok)
        pending_dsack_ = DuplicateRange{flows_->slot_of(t), t.generation, left, right};
}

void TcpStack::fill_sack_blocks(const Tcb& t, wire::TcpOptions& o, std::uint32_t option_room) {
    // RFC 2018 3: each block takes 8 bytes after a 2-byte kind and length, padded to 4 by NOPs;
    // the room is what the MSS leaves next to the payload (RFC 6691).
    if (option_room < 12)
        return;
    const std::size_t fits = std::min<std::size_t>(
        (option_room - 4) / 8, o.timestamps ? 3 : wire::TcpOptions::kMaxSackBlocks);
    const std::uint32_t slot = flows_->slot_of(t);
    std::size_t n = 0;
    if (pending_dsack_.right != pending_dsack_.left && pending_dsack_.slot == slot &&
        pending_dsack_.generation == t.generation) {
        // RFC 2883 4: the duplicate first, then the ordinary blocks.
        o.sack_blocks[n++] = {pending_dsack_.left, pending_dsack_.right};
        pending_dsack_ = {};
        counters_.tcp_dsack_sent += 1;
    }
    if (t.receive_queue.has_out_of_order() && n < fits) {
        const bool known =
            recent_out_of_order_.slot == slot && recent_out_of_order_.generation == t.generation;
        std::array<SackRange, wire::TcpOptions::kMaxSackBlocks> ranges;
        const std::size_t got =
            t.receive_queue.sack_blocks(std::span<SackRange>(ranges.data(), fits - n),
                                        known ? recent_out_of_order_.seq : t.rcv_nxt);
        for (std::size_t i = 0; i < got; ++i)
            o.sack_blocks[n++] = {ranges[i].left, ranges[i].right};
        counters_.tcp_sack_blocks_sent += got;
    }
    o.sack_block_count = static_cast<std::uint8_t>(n);
}

// Step seven: in-order data goes to the application, out-of-order data is held, and so is a FIN
// that came before the data in front of it (RFC 9293 3.10.7.4 eighth step: "do not process the
// FIN if the state is ... and the segment is not in sequence"). Returns whether the peer's FIN is
// now in order, for the eighth step.
// How many segments `t` may hold out of order now: its own bound, and no more than the worker's
// bound on all its connections together leaves room for (ReceiveQueue counts them per thread).
std::uint32_t TcpStack::out_of_order_limit(const Tcb& t) const {
    const std::uint32_t held = t.receive_queue.out_of_order_segments();
    const std::int64_t worker_room =
        std::int64_t{max_out_of_order_worker_} - ReceiveQueue::held_on_this_thread();
    if (worker_room <= 0)
        return std::min(held, max_out_of_order_);
    return static_cast<std::uint32_t>(
        std::min<std::int64_t>(max_out_of_order_, std::int64_t{held} + worker_room));
}

bool TcpStack::process_text(Tcb& t, const wire::TcpHeader& th, rte_mbuf*& payload) {
    bool fin = th.has(kFin);
    if (payload->data_len == 0 && !fin)
        return false;
    if (t.state != TcpState::Established && t.state != TcpState::FinWait1 &&
        t.state != TcpState::FinWait2) {
        // After the peer's FIN, text is ignored; a FIN again is the caller's to see.
        return fin && th.seq + payload->data_len == t.rcv_nxt;
    }
    if (payload->data_len > 0 && t.app_closed) {
        // Nobody will read it: tell the peer, as Linux does (RFC 9293 3.10.7.4, "abort").
        counters_.drop(DropReason::TcpAfterClose);
        abort(t);
        return false;
    }
    // Cut what lies beyond the window we offered; a FIN beyond it is not taken either.
    const SeqNum window_end = t.rcv_adv;
    if (th.seq + payload->data_len > window_end) {
        const auto beyond = static_cast<std::uint32_t>((th.seq + payload->data_len) - window_end);
        rte_pktmbuf_trim(payload, static_cast<std::uint16_t>(
                                      std::min<std::uint32_t>(beyond, payload->data_len)));
        fin = false;
    }
    if (payload->data_len == 0) {
        if (!fin || th.seq <= t.rcv_nxt)
            return fin && th.seq == t.rcv_nxt;
        // A FIN alone, ahead of data still missing: held, and the gap reported at once.
        const auto held =
            t.receive_queue.insert(payload, th.seq, t.rcv_nxt, out_of_order_limit(t), /*fin=*/true);
        payload = nullptr;
        if (held.held)
            counters_.tcp_fin_held_out_of_order += 1;
        note_out_of_order(t, th.seq);
        schedule_ack(t, /*immediately=*/true);
        return false;
    }
    const SeqNum before = t.rcv_nxt;
    const std::uint32_t length = payload->data_len;
    // The bound matters only to a segment that would be held (in order, nothing is).
    const std::uint32_t limit = th.seq > t.rcv_nxt ? out_of_order_limit(t) : max_out_of_order_;
    const bool worker_bound = limit < max_out_of_order_;
    const auto outcome = t.receive_queue.insert(payload, th.seq, t.rcv_nxt, limit, fin);
    payload = nullptr;  // the queue owns it now
    t.rcv_nxt = outcome.rcv_nxt;
    if (outcome.held) {
        counters_.tcp_out_of_order_segments += 1;
        if (fin)
            counters_.tcp_fin_held_out_of_order += 1;
    }
    if (outcome.dropped && !outcome.duplicate && th.seq > before) {
        counters_.drop(worker_bound ? DropReason::TcpOutOfOrderWorkerFull
                                    : DropReason::TcpOutOfOrderFull);
    }
    if (outcome.duplicate)
        note_duplicate(t, th.seq, th.seq + length);  // RFC 2883: reported as a D-SACK

    if (t.rcv_nxt == before) {
        // Out of order or a duplicate: a duplicate ACK at once tells the sender (RFC 5681 4.2),
        // with SACK blocks naming what is here (RFC 2018 4).
        note_out_of_order(t, th.seq);
        schedule_ack(t, /*immediately=*/true);
        return false;
    }
    const bool fin_in_order = outcome.fin_reached || (fin && th.seq + length == t.rcv_nxt);
    // RFC 9293 3.8.6.3: ACK at least every second full-sized segment, once the receive burst is
    // handled (burst_acks.hpp); at once when the segment filled a gap or left one open
    // (RFC 5681 4.2); otherwise within the delayed-ACK time. Except after a silence: a sender
    // that went quiet while it had data was waiting on a timer (a tail loss probe after its
    // ACKs were lost, RFC 8985 7.3, or a retransmission timeout), and what it sends then is a
    // probe whose answer it needs: the delayed ACK would add up to 40 ms to every such stall
    // (Linux acknowledges at once after a silence longer than its RTO, for the same reason).
    // A request that its answer leaves with in the same burst carries the ACK anyway.
    const bool filled_gap = static_cast<std::uint32_t>(t.rcv_nxt - before) > length;
    // A full-sized segment from a peer that sends timestamps carries 12 bytes less than our MSS
    // (RFC 7323 4.1 and 3.2: the option is 10 bytes, padded to 12).
    const std::uint32_t full_sized = our_mss_ - (t.ts_ok ? 12U : 0U);
    const auto owed = static_cast<std::uint32_t>(t.rcv_nxt - t.last_ack_sent);
    const bool two_segments_owed = owed >= 2U * full_sized;
    // A burst of jumbo frames can bring more than the sender may have in flight: past a quarter
    // of the buffer (at most 64 KiB, Linux's GRO limit) the ACK goes at once, so that the
    // sender is not left waiting for the end of the burst.
    const std::uint32_t burst_ack_limit =
        std::min<std::uint32_t>(kMaxBurstAckBytes, config_.receive_buffer / 4);
    if (filled_gap || t.receive_queue.has_out_of_order() || owed >= burst_ack_limit) {
        schedule_ack(t, /*immediately=*/true);
    } else if (two_segments_owed || after_silence_) {
        hold_ack_for_burst(t);
    } else {
        schedule_ack(t, /*immediately=*/false);
    }
    if (t.handler != nullptr) {
        const std::uint32_t generation = t.generation;
        t.handler->on_readable(handle_of(t));
        if (!alive(t, generation))
            return false;
    }
    return fin_in_order;
}

// Step eight: the peer's FIN, in order.
// The FIN is acknowledged at once (RFC 9293 3.10.7.4 eighth step). A FIN that leaves us in
// CLOSE-WAIT is acknowledged only after the application has heard of it: if it closes (or
// answers) inside on_peer_closed, its FIN or data carries the ACK, one segment where there would
// be two (Linux gets the same by delaying the ACK of a FIN in CLOSE-WAIT); what nothing carried
// goes alone at the end of segment_arrives(). After our own FIN the ACK goes now: the application
// has closed, or has shut down writing and may still be reading (enter_time_wait()).
void TcpStack::process_fin(Tcb& t) {
    t.peer_fin = true;
    t.rcv_nxt += 1;
    if (t.state == TcpState::SynReceived || t.state == TcpState::Established) {
        schedule_ack(t, /*immediately=*/true);
    } else {
        send_ack(t);
    }
    switch (t.state) {
        case TcpState::SynReceived:
        case TcpState::Established:
            set_state(t, TcpState::CloseWait);
            break;
        case TcpState::FinWait1:
            if (t.fin_acked()) {
                enter_time_wait(t);
            } else {
                set_state(t, TcpState::Closing);
            }
            break;
        case TcpState::FinWait2:
            enter_time_wait(t);
            break;
        default:
            break;
    }
    if (t.handler != nullptr && !t.app_closed)
        t.handler->on_peer_closed(handle_of(t));
}

}  // namespace sluice::tcp
