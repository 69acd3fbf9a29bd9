// Loss detection and recovery: fast retransmit and NewReno's partial ACKs (RFC 5681 3.2,
// RFC 6582), SACK-based recovery (RFC 6675) over the send queue's scoreboard, RACK's time-based
// loss detection (RFC 8985 6, which also finds retransmissions that were lost), and limited
// transmit (RFC 3042).
// docs/loss-recovery.md tells the whole story.
#include <algorithm>
#include <cstdlib>

#include "dataplane/tcp/tcp_stack.hpp"

namespace sluice::tcp {

using namespace wire::tcp_flag;

std::uint32_t TcpStack::now_us() const {
    const auto us = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(clock_.now()).count());
    return us == 0 ? 1 : us;
}

SendQueue::RackPoint TcpStack::rack_point(const Tcb& t) {
    if (t.rack_xmit_us == 0)
        return {};
    return {true, t.rack_xmit_us, std::int64_t{static_cast<std::int32_t>(t.rack_end - t.snd_una)}};
}

// RFC 8985 6.2 step 2: an answer that came sooner after a retransmission than the path's
// minimum RTT must be the original's.
std::uint32_t TcpStack::ambiguous_answer_us(const Tcb& t) {
    return static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(t.rtt.min_rtt()).count());
}

// RFC 8985 6.2 steps 2 and 3: the reference point moves to the latest-sent segment this ACK
// delivered, if it left after the current one; a segment sent once that arrived after one sent
// later shows the path reorders.
void TcpStack::rack_advance(Tcb& t, const SendQueue::Delivery& d) {
    if (d.reordered)
        t.reordering_seen = true;
    if (!d.newest.known)
        return;
    const SendQueue::RackPoint current = rack_point(t);
    const auto newer = [](const SendQueue::RackPoint& a, const SendQueue::RackPoint& b) {
        const auto gap = static_cast<std::int32_t>(a.sent_us - b.sent_us);
        return gap > 0 || (gap == 0 && a.end > b.end);
    };
    if (current.known && !newer(d.newest, current))
        return;
    const std::uint32_t now = now_us();
    t.rack_xmit_us = d.newest.sent_us;
    t.rack_end = t.snd_una + static_cast<std::uint32_t>(d.newest.end);
    t.rack_rtt_us = now - d.newest.sent_us;
}

// RACK.reo_wnd (RFC 8985 6.2 step 4): a quarter of the minimum RTT per step D-SACKs added, never
// more than the smoothed RTT.
std::uint32_t TcpStack::reorder_window_us(const Tcb& t) {
    const auto us = [](Nanos n) {
        return static_cast<std::uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(n).count());
    };
    const std::uint32_t srtt = us(t.rtt.srtt());
    return std::min<std::uint32_t>(t.cc.reo_wnd_mult() * (us(t.rtt.min_rtt()) / 4), srtt);
}

// The scoreboard judged by RFC 6675's IsLost (until the path has shown it reorders) and by RACK
// (RFC 8985 6.2 steps 4 and 5).
SendQueue::LossRules TcpStack::loss_rules(const Tcb& t) const {
    SendQueue::LossRules r;
    r.now_us = now_us();
    if (!t.reordering_seen)
        r.sacked_above = (kDupThresh - 1U) * t.snd_mss;
    r.rack = rack_point(t);
    if (r.rack.known) {
        // RFC 8985 6.2 step 4: no reordering window before any reordering was seen once
        // recovery has begun or DupThresh segments are SACKed.
        r.rack_rtt_us = t.rack_rtt_us;
        r.reo_wnd_us = reorder_window_us(t);
        if (!t.reordering_seen) {
            if (t.in_recovery || t.rto_recovery) {
                r.reo_wnd_us = 0;
            } else {
                r.zero_reo_wnd_sacked = kDupThresh * std::uint32_t{t.snd_mss};
            }
        }
    }
    return r;
}

// Each call walks everything in flight; an ACK asks several times, so the last answer is kept
// and given again while nothing it depends on has changed: the same connection, the same rules
// (the clock included), the same data sent and unacknowledged, and no send queue on this worker
// marked, acknowledged or sent from since.
SendQueue::Assessment TcpStack::assess_scoreboard(Tcb& t) {
    const auto sent =
        std::min(static_cast<std::uint32_t>(t.snd_max - t.snd_una), t.send_queue.size());
    const SendQueue::LossRules r = loss_rules(t);
    ScoreboardMemo& m = scoreboard_memo_;
    const SendQueue::ChangeCount& changes = SendQueue::changes();
    if (m.tcb == &t && m.generation == t.generation && m.changes.marks == changes.marks &&
        m.changes.sends == changes.sends && m.snd_una == t.snd_una && m.sent == sent &&
        m.rules == r) {
        return m.assessment;
    }
    SendQueue::Assessment a = t.send_queue.assess(sent, r);
    counters_.tcp_lost_retransmissions += a.lost_again;
    // What assess() changed (a lost retransmission's mark) it has already judged: asked again,
    // it would answer the same, without counting those twice.
    m = ScoreboardMemo{&t, t.generation, SendQueue::changes(), t.snd_una, sent, r, a};
    m.assessment.lost_again = 0;
    return a;
}

// Sending adds no segment's wait: what leaves now was not sent before RACK's reference point.
// So the memo answers even after this ACK's sends, as long as no mark changed. (A tail loss probe
// that resends a segment still waiting takes that wait away; the timer then fires early, finds
// nothing overdue, and is armed again: harmless.)
std::uint32_t TcpStack::reorder_wait_us(Tcb& t) {
    const ScoreboardMemo& m = scoreboard_memo_;
    if (m.tcb == &t && m.generation == t.generation &&
        m.changes.marks == SendQueue::changes().marks && m.snd_una == t.snd_una &&
        m.rules == loss_rules(t)) {
        return m.assessment.reorder_wait_us;
    }
    return assess_scoreboard(t).reorder_wait_us;
}

void TcpStack::duplicate_ack(Tcb& t) {
    if (t.dupacks < UINT8_MAX)
        ++t.dupacks;
}

void TcpStack::detect_loss(Tcb& t, bool duplicate, std::uint32_t delivered) {
    // In recovery output() sends what the pipe allows; RFC 6582 4.1: after a timeout, duplicates
    // of what go-back-N sent again are no new loss.
    if (t.in_recovery || t.rto_recovery || t.bytes_in_flight() == 0)
        return;
    // RFC 5681 3.2: the third duplicate, unless the path reorders (then only RACK's clock
    // decides); RFC 6675 5 and RFC 8985 6.2: or the scoreboard says a segment is lost, whether
    // this ACK was a duplicate or moved SND.UNA.
    bool lost = !t.reordering_seen && t.dupacks >= kDupThresh;
    if (!lost && t.sack_ok && (duplicate || t.rack_xmit_us != 0))
        lost = assess_scoreboard(t).any_lost;
    if (lost) {
        enter_recovery(t, delivered);
    } else if (duplicate && t.unsent() > 0) {
        counters_.tcp_limited_transmits += 1;  // RFC 3042: output() may send one more segment
    }
}

// A D-SACK for data below SND.UNA says a retransmission was not needed: the original arrived,
// late, or its ACK was lost (RFC 2883 5, RFC 3708). RFC 8985 6.2 step 4: widen RACK's reordering
// window by one step, at most once per recovery.
void TcpStack::spurious_retransmission(Tcb& t) {
    if (!t.reo_wnd_raised) {
        t.cc.widen_reo_wnd();
        t.reo_wnd_raised = true;
    }
}

// RFC 3708 2 (and Linux's undo): the recovery resent what the peer had; once every segment it
// resent has been D-SACKed, nothing was lost, and the window goes back to where it was. A
// D-SACK while recovery still runs waits for its end: recovery may resend more yet.
void TcpStack::retransmission_dsacked(Tcb& t, SeqNum left, SeqNum right) {
    spurious_retransmission(t);
    RecoveryUndo::Entry* e = recovery_undo_.find(&t, t.generation);
    if (e == nullptr || e->unconfirmed == 0 || left < e->resent_begin || right > e->resent_end)
        return;
    const auto length = static_cast<std::uint32_t>(right - left);
    const std::uint32_t segments = std::max<std::uint32_t>(1, (length + t.snd_mss - 1) / t.snd_mss);
    e->unconfirmed -= std::min(segments, e->unconfirmed);
    if (e->unconfirmed > 0)
        return;
    if (e->timeout) {
        undo_timeout(t, *e);
        return;
    }
    if (t.in_recovery) {
        e->undo_at_end = true;
        return;
    }
    undo_recovery(t, *e);
}

void TcpStack::undo_recovery(Tcb& t, const RecoveryUndo::Entry& e) {
    t.cc.undo(e.prior_cwnd, e.prior_ssthresh);
    counters_.tcp_recoveries_undone += 1;
    recovery_undo_.forget(&t, t.generation);
}

void TcpStack::remember_before_timeout(Tcb& t) {
    // Only D-SACKs (RFC 3708) or timestamps (RFC 3522) can show a timeout spurious.
    if (!t.sack_ok && !t.ts_ok)
        return;
    RecoveryUndo::Entry& e = recovery_undo_.start(&t, t.generation);
    e.prior_cwnd = t.cc.cwnd;
    e.prior_ssthresh = t.cc.ssthresh;
    e.timeout = true;
    e.retransmit_ts = t.ts_ok ? ts_value(t) : 0;  // the retransmission leaves in this tick
}

// RFC 3522 2 (Eifel detection): after a timeout, the first ACK for new data echoes the TSval of
// the segment that made it; a value older than our first retransmission's means the original
// arrived, and the timeout was spurious (a delay spike, or ACKs lost, not data). RFC 7323 4.3
// makes the peer echo the segment that filled a hole, so a lost original, repaired by the
// retransmission, echoes the retransmission and is not mistaken for one.
bool TcpStack::acks_original_transmission(const Tcb& t, const wire::TcpHeader& th) {
    if (!t.rto_recovery || !t.ts_ok || !th.options.timestamps ||
        th.options.timestamps->echo_reply == 0) {
        return false;
    }
    const RecoveryUndo::Entry* e = recovery_undo_.find(&t, t.generation);
    return e != nullptr && e->timeout &&
           static_cast<std::int32_t>(th.options.timestamps->echo_reply - e->retransmit_ts) < 0;
}

// RFC 4015 3 (the Eifel response), as Linux undoes a loss state: cwnd and ssthresh as before the
// timeout, go-back-N ends (SND.NXT to SND.MAX: what was sent before the timeout is taken to be on
// its way or delivered, and new data goes next); a later loss is found the usual way.
void TcpStack::undo_timeout(Tcb& t, const RecoveryUndo::Entry& e) {
    t.cc.undo(e.prior_cwnd, e.prior_ssthresh);
    counters_.tcp_spurious_timeouts += 1;
    if (t.rto_recovery) {
        t.rto_recovery = false;
        t.snd_nxt = t.snd_max;
    }
    recovery_undo_.forget(&t, t.generation);
}

void TcpStack::enter_recovery(Tcb& t, std::uint32_t delivered) {
    // What undoing it would restore (RFC 3708), with SACK, whose D-SACKs can show it needless.
    if (t.sack_ok) {
        RecoveryUndo::Entry& e = recovery_undo_.start(&t, t.generation);
        e.prior_cwnd = t.cc.cwnd;
        e.prior_ssthresh = t.cc.ssthresh;
    }
    // RFC 6582 3.2 step 2 and RFC 6675 5 step 4.
    t.in_recovery = true;
    t.recover = t.snd_max;
    t.reo_wnd_raised = false;
    t.cc.count_recovery_for_reo_wnd();
    // RFC 3042 2: segments limited transmit sent beyond cwnd are left out of the FlightSize the
    // new ssthresh is computed from.
    t.cc.on_loss(std::min(t.bytes_in_flight(), t.cc.cwnd), t.snd_mss, clock_.now());
    counters_.tcp_recoveries += 1;
    counters_.tcp_fast_retransmits += 1;
    // The first segment presumed lost goes at once, whatever the pipe (RFC 5681 3.2 step 3,
    // RFC 6675 5 step 4.3): with SACK the scoreboard's first, else the first unacknowledged.
    if (t.sack_ok) {
        const SendQueue::Assessment a = assess_scoreboard(t);
        // RFC 9937 5: RecoverFS is what was outstanding before this ACK and not SACKed: what
        // is left now, plus what this ACK delivered. Data SACKed earlier is never delivered
        // again during recovery, so it is no part of what the reduction is proportional to.
        const std::uint32_t outstanding = t.bytes_in_flight();
        t.cc.start_prr(outstanding - std::min(a.sacked, outstanding) + delivered, t.snd_mss);
        // cwnd is ssthresh (on_loss()) until an ACK that delivered data says what PRR allows;
        // the ACK that began recovery usually says so at once. A recovery RACK's timer began
        // has no such ACK, and sends as RFC 6675 would until one comes: holding it to its fast
        // retransmit alone (measured through the lossy bench) left too little in flight for
        // RACK to see that retransmission lost, and doubled the timeouts at 5 % loss.
        if (a.lost_length > 0) {
            retransmit_range(t, a.lost_offset, a.lost_length);
            return;
        }
    } else {
        // Without SACK recovery begins on a duplicate ACK, which moved nothing: RecoverFS is all
        // that is outstanding.
        t.cc.start_prr(t.bytes_in_flight(), t.snd_mss);
    }
    retransmit_first(t);
}

// RFC 9937 5: on every ACK of recovery (the one that began it too), cwnd becomes the pipe plus
// what PRR lets go now: in proportion to what was delivered while the pipe is above ssthresh, so
// that recovery ends with about ssthresh in flight instead of going quiet for half a round trip
// and then bursting (RFC 6675 and RFC 5681 set cwnd to ssthresh at once); below it, the pipe is
// rebuilt no faster than the ACKs come, one segment more per ACK while recovery goes well.
void TcpStack::proportional_rate_reduction(Tcb& t, std::uint32_t delivered, bool una_advanced) {
    if (delivered == 0)
        return;
    if (!t.sack_ok) {
        // Without SACK every partial ACK shows another hole (RFC 6582 3.2 step 5): no ACK of
        // recovery is safe, and the pipe is rebuilt by the conservative bound alone.
        t.cc.prr_on_ack(delivered, pipe_without_sack(t), /*safe_ack=*/false, t.snd_mss);
        return;
    }
    const SendQueue::Assessment a = assess_scoreboard(t);
    // "No further loss indicated": nothing judged lost waits to be resent.
    const bool safe_ack = una_advanced && a.lost_length == 0;
    t.cc.prr_on_ack(delivered, a.pipe, safe_ack, t.snd_mss);
}

void TcpStack::partial_ack(Tcb& t) {
    // RFC 6582 3.2 step 5: the next hole is lost too; resend it at once. With SACK the
    // scoreboard knows which holes are lost, and output() resends them as the pipe allows.
    counters_.tcp_partial_acks += 1;
    t.dupacks = 0;
    if (!t.sack_ok)
        retransmit_first(t);
}

void TcpStack::end_recovery(Tcb& t) {
    t.in_recovery = false;
    t.dupacks = 0;
    t.cc.on_recovery_end();
    if (const RecoveryUndo::Entry* e = recovery_undo_.find(&t, t.generation);
        e != nullptr && e->undo_at_end) {
        undo_recovery(t, *e);
    }
}

void TcpStack::retransmit_first(Tcb& t) {
    const std::uint32_t queued = t.send_queue.size();
    if (queued == 0) {
        // Only our FIN is outstanding.
        if (t.fin_sent() && !t.fin_acked()) {
            send_segment(t, t.fin_seq, kFin | kAck, 0, 0);
            count_retransmission(t, t.fin_seq, 1);
        }
        return;
    }
    retransmit_range(t, 0,
                     t.send_queue.segment_length(0, std::min<std::uint32_t>(t.snd_mss, queued)));
}

void TcpStack::retransmit_range(Tcb& t, std::uint32_t offset, std::uint32_t length) {
    const std::uint32_t queued = t.send_queue.size();
    if (offset >= queued)
        return;
    length = std::min(length, queued - offset);
    for (std::uint32_t done = 0; done < length;) {
        const std::uint32_t piece = std::min<std::uint32_t>(t.snd_mss, length - done);
        send_segment(t, t.snd_una + (offset + done), kAck, offset + done, piece);
        count_retransmission(t, t.snd_una + (offset + done), piece);
        done += piece;
    }
    t.send_queue.note_sent(offset, length, now_us(), /*retransmission=*/true);
    if (t.in_recovery)
        t.cc.prr_sent(length);
}

void TcpStack::count_retransmission(Tcb& t, SeqNum seq, std::uint32_t length) {
    counters_.tcp_retransmitted_segments += 1;
    t.total_retransmits += 1;
    // A recovery's (or a timeout's) retransmission: one more that a D-SACK must show needless
    // before an undo, and the span a D-SACK must fall in to count.
    RecoveryUndo::Entry* e =
        t.in_recovery || t.rto_recovery ? recovery_undo_.find(&t, t.generation) : nullptr;
    if (e == nullptr)
        return;
    e->unconfirmed += 1;
    e->undo_at_end = false;
    const SeqNum end = seq + length;
    if (!e->resent) {
        e->resent = true;
        e->resent_begin = seq;
        e->resent_end = end;
        return;
    }
    e->resent_begin = seq_min(e->resent_begin, seq);
    e->resent_end = seq_max(e->resent_end, end);
}

// NewReno: every duplicate ACK is a segment that left the network (RFC 5681 3.2 step 4's window
// inflation, counted the other way round).
std::uint32_t TcpStack::pipe_without_sack(const Tcb& t) {
    const std::uint32_t departed = std::uint32_t{t.dupacks} * t.snd_mss;
    const std::uint32_t flight = t.bytes_in_flight();
    return flight > departed ? flight - departed : 0;
}

std::uint32_t TcpStack::recovery_send(Tcb& t) {
    if (!t.sack_ok)
        return pipe_without_sack(t);  // the fast retransmit and the holes went at once
    // RFC 6675 5 step (C): while the pipe has room for a whole segment (cwnd - pipe >= SMSS),
    // the lowest lost segment not yet resent. Bounded: each pass resends a range above the last
    // one or stops.
    std::int64_t resent_up_to = -1;
    for (;;) {
        const SendQueue::Assessment a = assess_scoreboard(t);
        if (std::uint64_t{a.pipe} + std::min<std::uint32_t>(a.lost_length, t.snd_mss) > t.cc.cwnd ||
            a.lost_length == 0 || static_cast<std::int64_t>(a.lost_offset) <= resent_up_to)
            return a.pipe;
        retransmit_range(t, a.lost_offset, a.lost_length);
        resent_up_to = a.lost_offset;
    }
}

}  // namespace sluice::tcp
