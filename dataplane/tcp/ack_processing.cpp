// The sender's half of RFC 9293 3.10.7.4's fifth step: what an acknowledgment tells, one function
// per thing it can tell (gVisor's snd.go handleRcvdSegment and its helpers are the model):
// SACK blocks, new data acknowledged (with its RTT sample), a duplicate ACK, the send window.
// What to do about a loss is loss_recovery.cpp's; how the window reacts is congestion/'s.
#include <algorithm>

#include "dataplane/tcp/tcp_stack.hpp"

namespace sluice::tcp {

using namespace wire::tcp_flag;

// Step five. Returns false when the segment is to be dropped (or the connection ended).
bool TcpStack::process_ack(Tcb& t, const wire::TcpHeader& th, std::uint32_t payload_length) {
    const std::uint32_t generation = t.generation;
    if (t.state == TcpState::SynReceived && !ack_completes_passive_open(t, th))
        return false;
    if (!alive(t, generation))
        return false;

    // RFC 5961 5.2: an ACK for what was never sent, or older than any window we could have had,
    // is answered with an ACK and dropped.
    if (th.ack > t.snd_max) {
        counters_.drop(DropReason::TcpBadAck);
        send_ack(t);
        return false;
    }
    if (th.ack < t.snd_una - t.max_snd_wnd) {
        counters_.drop(DropReason::TcpBadAck);
        send_challenge_ack(t);
        return false;
    }

    const std::uint32_t window = static_cast<std::uint32_t>(th.window) << t.snd_wscale;
    // RACK's reference point before this ACK: the segments it acknowledges cumulatively are
    // judged against it, not against one its own SACK blocks just reported (RFC 8985 6.2 step
    // 3's RACK.fack is the value before the ACK, as Linux's prior_fack is).
    const SendQueue::RackPoint rack_before = rack_point(t);
    const std::uint32_t newly_sacked = t.sack_ok ? sack_arrived(t, th) : 0;
    bool notify_writable = false;
    const bool acks_new_data = th.ack > t.snd_una;
    bool duplicate = false;
    // What this ACK delivered (RFC 9937's DeliveredData): bytes newly SACKed, plus bytes newly
    // acknowledged cumulatively that no SACK had delivered before.
    std::uint32_t delivered = newly_sacked;
    const std::uint32_t duplicates_before = t.dupacks;
    if (acks_new_data) {
        std::uint32_t acked_unsacked = 0;
        notify_writable = new_data_acked(t, th, rack_before, acked_unsacked);
        delivered += acked_unsacked;
        // RFC 9937 5, without SACK: each duplicate ACK was counted as a segment delivered
        // already, so the cumulative ACK that follows them delivered that much less.
        if (!t.sack_ok)
            delivered -= std::min(delivered, duplicates_before * t.snd_mss);
    } else if (is_duplicate_ack(t, th, window, payload_length, newly_sacked)) {
        duplicate = true;
        duplicate_ack(t);
        // RFC 9937 5: without SACK a duplicate ACK is taken to say one segment left the network.
        if (!t.sack_ok)
            delivered = t.snd_mss;
    }
    update_send_window(t, th, window, acks_new_data);
    detect_loss(t, duplicate, delivered);
    if (t.in_recovery)
        proportional_rate_reduction(t, delivered, acks_new_data);
    if (notify_writable) {
        t.want_writable = false;
        if (t.handler != nullptr && !t.app_closed)
            t.handler->on_writable(handle_of(t));
        if (!alive(t, generation))
            return false;
    }

    switch (t.state) {
        case TcpState::FinWait1:
            if (t.fin_acked())
                set_state(t, TcpState::FinWait2);
            break;
        case TcpState::Closing:
            if (t.fin_acked()) {
                enter_time_wait(t);
                return false;
            }
            break;
        case TcpState::LastAck:
            if (t.fin_acked()) {
                finish(t, api::CloseReason::Closed);
                return false;
            }
            break;
        default:
            break;
    }
    rearm_timer(t);
    return true;
}

// SYN-RECEIVED: the ACK of our SYN-ACK completes a passive open (or a simultaneous one).
bool TcpStack::ack_completes_passive_open(Tcb& t, const wire::TcpHeader& th) {
    const std::uint32_t generation = t.generation;
    if (!(th.ack > t.snd_una && th.ack <= t.snd_max)) {
        counters_.drop(DropReason::TcpBadAck);
        send_reset(t.tuple, th.ack, SeqNum(0), /*with_ack=*/false);
        return false;
    }
    t.snd_wnd = static_cast<std::uint32_t>(th.window) << t.snd_wscale;
    t.max_snd_wnd = std::max(t.max_snd_wnd, t.snd_wnd);
    t.snd_wl1 = th.seq;
    t.snd_wl2 = th.ack;
    handshake_rtt(t);
    t.snd_una = th.ack;
    t.una_advanced = true;
    t.retries = 0;
    const bool closing = t.fin_queued;
    set_state(t, closing ? TcpState::FinWait1 : TcpState::Established);
    rearm_timer(t);
    if (t.passive && t.handler == nullptr) {
        Listener* l = find_listener(t.tuple.local_port);
        api::ConnectionHandler* h = l != nullptr ? l->handler->on_accept(handle_of(t)) : nullptr;
        if (!alive(t, generation))
            return false;
        if (h == nullptr) {
            abort(t);
            return false;
        }
        t.handler = h;
        h->on_connected(handle_of(t));
        if (!alive(t, generation))
            return false;
    }
    if (closing)
        output(t);  // the FIN that waited for the handshake
    return alive(t, generation);
}

// RFC 6298 2.2: the handshake's round trip (timed by send_syn, never from a retransmitted SYN or
// SYN-ACK) is the first sample, so that the first data RTO is not the 1 s meant for none. 5.7:
// when the handshake needed a retransmission and gave no sample, data starts with 3 s.
void TcpStack::handshake_rtt(Tcb& t) {
    if (t.rtt_timing) {
        t.rtt.sample(std::chrono::microseconds(now_us() - t.rack_xmit_us), clock_.now());
    } else if (t.retries > 0 && !t.rtt.has_sample()) {
        t.rtt.lengthen_initial_rto();
    }
    t.rtt_timing = false;
    t.rack_xmit_us = 0;  // it held the SYN's send time; RACK starts with nothing delivered
}

// RFC 2018 and RFC 2883: the peer's SACK blocks, validated, marked on the send queue. Returns
// the bytes newly SACKed. Each block costs one walk of the queue from the block's start, and at
// most four are read, so an ACK's work is bounded by the send buffer whatever its blocks say.
std::uint32_t TcpStack::sack_arrived(Tcb& t, const wire::TcpHeader& th) {
    const wire::TcpOptions& o = th.options;
    if (o.sack_block_count == 0)
        return 0;
    counters_.tcp_sack_blocks_received += o.sack_block_count;
    const auto sent_data =
        std::min(static_cast<std::uint32_t>(t.snd_max - t.snd_una), t.send_queue.size());
    // SND.UNA as this ACK moves it: blocks are judged against what will still be outstanding.
    const SeqNum una = seq_max(t.snd_una, th.ack);
    const SendQueue::RackPoint rack = rack_point(t);
    const std::uint32_t now = now_us();
    SendQueue::Delivery d;
    for (std::uint8_t i = 0; i < o.sack_block_count; ++i) {
        const wire::SackBlock& b = o.sack_blocks[i];
        // RFC 2883 4: a first block below the cumulative ACK, or inside the second block, reports
        // a duplicate segment: a D-SACK, not a hole.
        const bool below_ack = b.right <= th.ack;
        const bool inside_second = i == 0 && o.sack_block_count > 1 &&
                                   o.sack_blocks[1].left <= b.left &&
                                   b.right <= o.sack_blocks[1].right;
        if (b.left < b.right && i == 0 && (below_ack || inside_second)) {
            counters_.tcp_dsack_received += 1;
            if (below_ack && t.total_retransmits > 0)
                retransmission_dsacked(t, b.left, b.right);
            continue;
        }
        // Reversed, empty, below SND.UNA, or past what we sent: ignored, and counted (an attacker
        // or a broken middlebox; Linux's 2019 SACK CVEs are the warning against trusting them).
        if (!(b.left < b.right) || b.left < una || b.right > t.snd_una + sent_data) {
            counters_.tcp_sack_blocks_invalid += 1;
            continue;
        }
        t.send_queue.mark_sacked(static_cast<std::uint32_t>(b.left - t.snd_una),
                                 static_cast<std::uint32_t>(b.right - t.snd_una), rack, now,
                                 ambiguous_answer_us(t), d);
    }
    // An RTT sample from data SACKed for the first time and never sent twice (Karn's rule
    // holds), as Linux takes one (tcp_sacktag_write_queue()): during recovery and after a
    // timeout, when cumulative ACKs and their timestamps say nothing trustworthy, it is what
    // brings a backed-off RTO back down (RFC 6298 5.7's "new RTT measurement").
    if (d.oldest_clean_us) {
        const std::uint32_t age_us = now - *d.oldest_clean_us;
        if (static_cast<std::int32_t>(age_us) >= 0)
            t.rtt.sample(std::chrono::microseconds(age_us), clock_.now());
    }
    rack_advance(t, d);
    return d.bytes;
}

// SEG.ACK passed SND.UNA. Returns whether the application should hear on_writable.
bool TcpStack::new_data_acked(Tcb& t, const wire::TcpHeader& th,
                              const SendQueue::RackPoint& rack_before, std::uint32_t& delivered) {
    const auto acked = static_cast<std::uint32_t>(th.ack - t.snd_una);
    const bool timeout_was_spurious = t.rto_recovery && acks_original_transmission(t, th);
    // The FIN takes a sequence number but no byte of the queue.
    const std::uint32_t data_acked = std::min(acked, t.send_queue.size());
    delivered = data_acked;
    // What the segments now acknowledged tell RACK (while it is tracking anything) and the RTT:
    // the age of the latest-sent of them never sent twice (Karn's rule; RFC 6298 3 allows timing
    // more than one segment per round trip), in microseconds, as Linux times from its send
    // stamps. The timestamp echo (RFC 7323 4) counts milliseconds, which on a path of a tenth of
    // one says 0: it is the fallback for when every segment acknowledged was sent twice. In
    // recovery, PRR also needs to know how many of them were SACKed before: those were
    // delivered then.
    const std::uint32_t now = now_us();
    SendQueue::Delivery d;
    t.send_queue.note_acknowledged(data_acked, rack_before, now, ambiguous_answer_us(t), d);
    delivered = data_acked - std::min(d.sacked_before, data_acked);
    bool timed = false;
    if (d.newest_clean_us) {
        const std::uint32_t age_us = now - *d.newest_clean_us;
        if (static_cast<std::int32_t>(age_us) >= 0) {
            t.rtt.sample(std::chrono::microseconds(age_us), clock_.now());
            timed = true;
        }
    }
    if (t.rack_xmit_us != 0)
        rack_advance(t, d);
    if (!timed)
        take_rtt_sample(t, th);
    t.send_queue.consume(data_acked);
    t.snd_una = th.ack;
    if (t.snd_una == t.snd_max) {
        t.rack_xmit_us = 0;  // nothing outstanding: RACK has nothing to judge until a SACK
        t.idle_since_us = now_us();
    }
    t.una_advanced = true;
    if (t.snd_nxt < t.snd_una)
        t.snd_nxt = t.snd_una;
    t.retries = 0;
    t.probe_sent = false;
    counters_.tcp_bytes_sent += data_acked;
    if (timeout_was_spurious) {
        if (const RecoveryUndo::Entry* e = recovery_undo_.find(&t, t.generation))
            undo_timeout(t, *e);
    }
    if (t.rto_recovery && t.snd_una >= t.recover)
        t.rto_recovery = false;
    if (t.in_recovery) {
        if (t.snd_una >= t.recover) {
            end_recovery(t);
        } else {
            partial_ack(t);
        }
    } else {
        t.dupacks = 0;
        t.cc.on_ack(congestion::AckSample{data_acked, t.snd_mss, clock_.now(), t.rtt.srtt()});
    }
    // Told by process_ack, once the window is updated: the application's answer is to send, and
    // output() must not see the new SND.UNA with the old window (that sends past the peer's
    // right edge whenever its window shrinks relative to the data acknowledged).
    return t.want_writable && send_space(t) > 0 && !t.fin_queued;
}

// RTT from the echoed timestamp (RFC 7323 4.1), when new_data_acked() could not time a segment
// itself (all it acknowledged had been sent twice). A millisecond clock's sample is too coarse
// for RACK's minimum RTT, so it feeds SRTT only.
void TcpStack::take_rtt_sample(Tcb& t, const wire::TcpHeader& th) {
    if (t.ts_ok && th.options.timestamps && th.options.timestamps->echo_reply != 0) {
        const auto ms = static_cast<std::int32_t>(ts_value(t) - th.options.timestamps->echo_reply);
        // Karn's rule through the timestamp: after a timeout, an ACK whose echo is older than our
        // last retransmission answers a duplicate, and its "RTT" is the time its ACKs were lost
        // (seconds, where the path takes milliseconds; the RTO would grow to match, and a lossy
        // connection stall behind it). The retransmission went out one RTO before the deadline.
        // The data did get through, though, so the backoff goes as it would with a sample (Linux
        // and FreeBSD take the echo's value and so collapse it too): otherwise, on a path that
        // loses the duplicates' answers, the RTO stays at its ceiling for good.
        if (t.retries > 0 && t.timer.armed() && t.timer_kind == TimerKind::Retransmit) {
            const Nanos since_retransmission =
                t.rtt.rto(rto_bounds_) - wheel_.time_left(t.timer) + wheel_.tick();
            if (std::chrono::milliseconds(ms) > since_retransmission) {
                t.rtt.reset_backoff();
                return;
            }
        }
        if (ms >= 0)
            t.rtt.sample_coarse(std::chrono::milliseconds(ms));
    }
}

// RFC 5681 2: a duplicate ACK acknowledges nothing new while data is outstanding, carries no
// data and no FIN, and leaves the window as it was. RFC 6675 2 decides by SACK instead when the
// ACK carries blocks: it is a duplicate when it SACKs data not SACKed before, which tells just
// as surely that a segment left the network whatever else it carries (a data segment of a
// two-way exchange, a window that opened); one whose blocks say nothing new (a D-SACK for a
// spurious retransmission, RFC 2883) is not.
bool TcpStack::is_duplicate_ack(const Tcb& t, const wire::TcpHeader& th, std::uint32_t window,
                                std::uint32_t payload_length, std::uint32_t newly_sacked) const {
    if (th.ack != t.snd_una || t.bytes_in_flight() == 0)
        return false;
    if (t.sack_ok && th.options.sack_block_count > 0)
        return newly_sacked > 0;
    return payload_length == 0 && !th.has(kFin) && window == t.snd_wnd;
}

// RFC 9293 3.10.7.4: the window comes from the newest segment only, and, as Linux takes it
// (tcp_may_update_window()), from any segment whose ACK takes SND.UNA forward. Without that a
// retransmission from the peer (an older SEG.SEQ with a newer ACK) moves SND.UNA but not the
// window, and SND.UNA + SND.WND runs past the right edge the peer ever offered.
void TcpStack::update_send_window(Tcb& t, const wire::TcpHeader& th, std::uint32_t window,
                                  bool acks_new_data) {
    if (acks_new_data || t.snd_wl1 < th.seq || (t.snd_wl1 == th.seq && t.snd_wl2 <= th.ack)) {
        t.snd_wnd = window;
        t.max_snd_wnd = std::max(t.max_snd_wnd, window);
        t.snd_wl1 = th.seq;
        t.snd_wl2 = th.ack;
    }
}

}  // namespace sluice::tcp
