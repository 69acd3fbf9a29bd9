// TCP's timers on the worker's wheel: retransmission (RFC 6298), delayed ACK (RFC 9293 3.8.6.3),
// persist (RFC 9293 3.8.6.1), keepalive (RFC 9293 3.8.4), FIN-WAIT-2 for orphans, TIME-WAIT
// (RFC 9293 3.10.7.4, 2 MSL). Each TCB has one wheel entry, for the first kind that applies; the
// delayed ACKs wait in the stack's DelayedAckQueue.
#include <algorithm>

#include "dataplane/tcp/tcp_stack.hpp"

namespace sluice::tcp {

namespace {
// How long an orphaned connection (closed by the application) may wait in FIN-WAIT-2 for the
// peer's FIN; Linux's tcp_fin_timeout.
constexpr Nanos kFinWait2Timeout = std::chrono::seconds(60);
}  // namespace

void TcpStack::poll_timers() {
    delayed_acks_.expire(clock_.now(),
                         [this](const DelayedAckQueue::Entry& e) { on_delayed_ack(e); });
    wheel_.advance(clock_.now(), [this](TimerEntry& e) { on_timer(e); });
}

void TcpStack::on_delayed_ack(const DelayedAckQueue::Entry& e) {
    Tcb* t = lookup(e.slot, e.generation);
    if (t == nullptr)
        return;  // released since: the slot may have a new connection
    t->ack_queued = false;
    if (t->ack_pending) {
        counters_.tcp_delayed_acks += 1;
        send_ack(*t);
    }
}

void TcpStack::rearm_timer(Tcb& t) {
    if (t.state == TcpState::TimeWait || t.state == TcpState::Closed)
        return;
    const Nanos now = clock_.now();
    // The same kind armed again for later (nearly every ACK restarts the retransmission timer, and
    // every segment heard pushes keepalive back) only moves the deadline: see TimerWheel::postpone.
    const auto arm = [&](TimerKind kind, Nanos deadline) {
        if (t.timer.armed() && t.timer_kind == kind) {
            wheel_.postpone(t.timer, deadline);
            return;
        }
        t.timer_kind = kind;
        wheel_.schedule(t.timer, deadline);
    };
    const bool handshaking = t.state == TcpState::SynSent || t.state == TcpState::SynReceived;
    if (handshaking || t.bytes_in_flight() > 0) {
        // RFC 8985 6.3: while a segment sent before RACK's reference point waits out the
        // reordering window, the timer is RACK's; it fires when the segment becomes overdue.
        if (!handshaking && t.rack_xmit_us != 0) {
            if (const std::uint32_t wait = reorder_wait_us(t); wait > 0) {
                const Nanos deadline = now + std::chrono::microseconds(wait);
                if (!(t.timer.armed() && t.timer_kind == TimerKind::RackReorder &&
                      now + wheel_.time_left(t.timer) <= deadline)) {
                    t.timer_kind = TimerKind::RackReorder;
                    wheel_.schedule(t.timer, deadline);
                }
                return;
            }
        }
        // RFC 6298 5.1 and 5.3: started when data leaves with none outstanding, restarted when an
        // ACK takes SND.UNA forward; left alone otherwise.
        const bool retransmission_armed =
            t.timer_kind == TimerKind::Retransmit || t.timer_kind == TimerKind::TailLossProbe;
        if (t.timer.armed() && retransmission_armed && !t.una_advanced)
            return;
        t.una_advanced = false;
        const Nanos rto = t.rtt.rto(rto_bounds_);
        if (const Nanos pto = probe_timeout(t); !handshaking && pto < rto) {
            arm(TimerKind::TailLossProbe, now + pto);
        } else {
            arm(TimerKind::Retransmit, now + rto);
        }
        return;
    }
    if (t.unsent() > 0 && t.snd_wnd == 0) {
        if (t.timer.armed() && t.timer_kind == TimerKind::Persist)
            return;
        const Nanos interval =
            std::clamp(t.rtt.rto(rto_bounds_) * (1 << std::min<int>(t.retries, 10)),
                       config_.persist_min, config_.persist_max);
        arm(TimerKind::Persist, now + interval);
        return;
    }
    t.retries = 0;
    if (t.state == TcpState::FinWait2 && t.app_closed) {
        if (!(t.timer.armed() && t.timer_kind == TimerKind::FinWait2)) {
            arm(TimerKind::FinWait2, now + kFinWait2Timeout);
        }
        return;
    }
    if (t.keepalive && (t.state == TcpState::Established || t.state == TcpState::CloseWait)) {
        // Idle time after the last segment heard; once probing, one probe per interval.
        const Nanos deadline = t.probes_sent == 0
                                   ? now - t.last_received.age(now) + config_.keepalive_idle
                                   : now + config_.keepalive_interval;
        arm(TimerKind::Keepalive, std::max(deadline, now));
        return;
    }
    wheel_.cancel(t.timer);
    t.timer_kind = TimerKind::None;
}

void TcpStack::on_timer(TimerEntry& e) {
    if (pacer_.owns(e)) {
        on_pacing_release(pacer_.entry_of(e));
        return;
    }
    Tcb& t = *flows_->at(e.owner);
    if (t.state == TcpState::Closed)
        return;
    switch (t.timer_kind) {
        case TimerKind::Retransmit:
            on_retransmit_timeout(t);
            break;
        case TimerKind::TailLossProbe:
            on_probe_timeout(t);
            break;
        case TimerKind::RackReorder:
            on_reorder_timeout(t);
            break;
        case TimerKind::Persist:
            on_persist_timeout(t);
            break;
        case TimerKind::Keepalive:
            on_keepalive_timeout(t);
            break;
        case TimerKind::FinWait2:
        case TimerKind::TimeWait:
            finish(t, api::CloseReason::Closed);
            break;
        case TimerKind::None:
            break;
    }
}

void TcpStack::on_retransmit_timeout(Tcb& t) {
    counters_.tcp_timeouts += 1;
    const bool handshaking = t.state == TcpState::SynSent || t.state == TcpState::SynReceived;
    const std::uint8_t limit = handshaking ? config_.syn_retries : config_.max_retransmits;
    if (t.retries >= limit) {
        if (t.state == TcpState::SynSent)
            counters_.tcp_connect_failures += 1;
        if (t.state == TcpState::SynReceived && t.passive) {
            release(t);  // the listener never saw it
            return;
        }
        finish(t, api::CloseReason::TimedOut);
        return;
    }
    ++t.retries;
    // RFC 6298 5.5 and 5.6: back off, and retransmit the earliest unacknowledged segment. Karn's
    // rule: nothing retransmitted is timed.
    t.rtt.back_off();
    t.rtt_timing = false;
    if (handshaking) {
        count_retransmission(t, t.iss(), 1);
        send_syn(t);
    } else {
        // RFC 5681 3.1 (eq. 4) and its loss window of one segment, through the controller; go
        // back to SND.UNA (output() counts what it sends again as retransmissions); RFC 6582 4.1:
        // no fast retransmit until the data outstanding now is acknowledged. The window was cut
        // once for this episode already when recovery or an earlier timeout began: then only cwnd
        // goes back to one segment (as Linux's tcp_enter_loss() does), or each backed-off timeout
        // would cut ssthresh again.
        // The first timeout of an episode remembers the window it cuts, in case the ACK of the
        // original or a D-SACK shows it spurious (RFC 3522, RFC 3708); later ones in a row keep
        // that. A timeout during fast recovery ends it, and the recovery is not to be undone.
        if (t.in_recovery) {
            recovery_undo_.forget(&t, t.generation);
            t.cc.end_prr();
            t.cc.cwnd = t.snd_mss;
        } else if (t.rto_recovery) {
            t.cc.cwnd = t.snd_mss;
        } else {
            remember_before_timeout(t);
            t.cc.on_retransmit_timeout(t.bytes_in_flight(), t.snd_mss, clock_.now());
        }
        t.in_recovery = false;
        t.rto_recovery = true;
        t.recover = t.snd_max;
        t.dupacks = 0;
        // Going back, output() steps over what the peer SACKed, as Linux does; after a second
        // timeout in a row the marks go too, in case the receiver reneged (RFC 2018 8).
        // The send times go with them: what left before the timeout can neither be timed nor
        // judged by RACK against what goes now.
        if (t.retries >= 2) {
            t.send_queue.clear_marks();
        } else {
            t.send_queue.forget_transmissions();
        }
        t.snd_nxt = t.snd_una;
        output(t);
    }
    t.una_advanced = false;
    t.timer_kind = TimerKind::Retransmit;
    wheel_.schedule(t.timer, clock_.now() + t.rtt.rto(rto_bounds_));
}

// RFC 8985 7.2: a probe timeout of two smoothed RTTs, plus the peer's worst delayed ACK when one
// segment is all that is out (its ACK may be held back); only with SACK, outside recovery, one
// probe per tail, and never later than the RTO. Two ticks of the wheel on top, as Linux adds two
// jiffies (TCP_TIMEOUT_MIN), so that the timer's granularity never fires it early; no floor
// beyond that: on a path of a tenth of a millisecond a 10 ms floor made every lost tail wait
// fifty round trips. Nanos::max() when no probe applies.
// A FIN in flight behind data counts as a segment of its own, as Linux counts packets out: the
// usual end of a transfer is the last data, then the FIN when the application closes, and a lost
// last segment must not wait the delayed-ACK allowance (which ran past the RTO) for its probe.
Nanos TcpStack::probe_timeout(const Tcb& t) const {
    if (!t.sack_ok || t.in_recovery || t.rto_recovery || t.probe_sent || !t.rtt.has_sample() ||
        t.rtt.backoff() > 0) {
        return Nanos::max();
    }
    const Nanos srtt = t.rtt.srtt();
    Nanos pto = 2 * srtt;
    const bool fin_behind_data = t.fin_sent() && !t.fin_acked() && t.bytes_in_flight() > 1;
    if (t.bytes_in_flight() <= t.snd_mss && !fin_behind_data)
        pto = std::max(pto, srtt + srtt / 2 + std::chrono::milliseconds(200));
    return pto + 2 * wheel_.tick();
}

// RFC 8985 7.3: send one new segment if the windows allow, else the last segment again, so that
// the peer's ACK (with SACK blocks) reveals a lost tail and fast recovery repairs it instead of a
// timeout. Then the retransmission timer takes over.
void TcpStack::on_probe_timeout(Tcb& t) {
    // RFC 8985 7.2: no probe during recovery. A probe timer armed before recovery began (its ACKs
    // moved nothing, so nothing re-armed it) is the retransmission timer from here on.
    if (t.in_recovery || t.rto_recovery) {
        t.timer_kind = TimerKind::Retransmit;
        wheel_.schedule(t.timer, clock_.now() + t.rtt.rto(rto_bounds_));
        return;
    }
    counters_.tcp_tail_loss_probes += 1;
    t.probe_sent = true;
    const auto sent = static_cast<std::uint32_t>(t.snd_nxt - t.snd_una);
    const bool new_data_fits = t.unsent() > 0 && t.snd_wnd > sent;
    if (new_data_fits) {
        output(t, /*probe=*/true);  // within the peer's window; beyond cwnd if need be (7.3)
    } else {
        const std::uint32_t data =
            std::min(static_cast<std::uint32_t>(t.snd_max - t.snd_una), t.send_queue.size());
        if (data > 0) {
            const std::uint32_t length = std::min<std::uint32_t>(t.snd_mss, data);
            retransmit_range(t, data - length, length);
        } else if (t.fin_sent() && !t.fin_acked()) {
            send_segment(t, t.fin_seq, wire::tcp_flag::kFin | wire::tcp_flag::kAck, 0, 0);
            count_retransmission(t, t.fin_seq, 1);
        }
    }
    t.una_advanced = false;
    t.timer_kind = TimerKind::Retransmit;
    wheel_.schedule(t.timer, clock_.now() + t.rtt.rto(rto_bounds_));
}

// RFC 8985 6.3: the segment RACK was waiting on is overdue now (or an ACK moved things on):
// judge the scoreboard again, recover what is lost, and arm whichever timer applies next.
void TcpStack::on_reorder_timeout(Tcb& t) {
    t.timer_kind = TimerKind::None;
    detect_loss(t, /*duplicate=*/false, /*delivered=*/0);
    output(t);  // in recovery it resends what is lost, and re-arms the timer
    if (!t.timer.armed())
        rearm_timer(t);
}

void TcpStack::on_persist_timeout(Tcb& t) {
    // A probe the receiver must answer with its current window (RFC 9293 3.8.6.1); like Linux, an
    // already-acknowledged sequence number, so the probe carries no new data.
    counters_.tcp_window_probes += 1;
    send_segment(t, t.snd_una - 1, wire::tcp_flag::kAck, 0, 0);
    if (t.retries < 30)
        ++t.retries;
    rearm_timer(t);
}

void TcpStack::on_keepalive_timeout(Tcb& t) {
    if (t.probes_sent >= config_.keepalive_probes) {
        finish(t, api::CloseReason::TimedOut);
        return;
    }
    ++t.probes_sent;
    counters_.tcp_keepalive_probes += 1;
    send_segment(t, t.snd_una - 1, wire::tcp_flag::kAck, 0, 0);
    t.timer_kind = TimerKind::Keepalive;
    wheel_.schedule(t.timer, clock_.now() + config_.keepalive_interval);
}

void TcpStack::enter_time_wait(Tcb& t) {
    set_state(t, TcpState::TimeWait);
    t.ack_pending = t.ack_queued = false;
    t.send_queue.clear();
    t.timer_kind = TimerKind::TimeWait;
    wheel_.schedule(t.timer, clock_.now() + 2 * config_.msl);
    // The TCB stays only to answer a lost ACK and to keep the 4-tuple from being reused too soon
    // (RFC 9293 3.4.2). An application that shut down its writing half and has not read all the
    // peer sent before its FIN still reads it (as from a Linux socket after shutdown(SHUT_WR)):
    // the connection stays its own until it closes or the 2 MSL are over.
    if (t.handler == nullptr || t.app_closed || t.receive_queue.readable() == 0)
        end_for_application(t);
}

void TcpStack::end_for_application(Tcb& t) {
    t.receive_queue.clear();
    api::ConnectionHandler* handler = t.handler;
    const api::Connection handle = handle_of(t);
    t.handler = nullptr;
    // A queued delayed ACK or an old handle no longer finds this TCB.
    ++t.generation;
    if (handler != nullptr)
        report_closed(handler, handle, t.user_data, api::CloseReason::Closed);
}

}  // namespace sluice::tcp
