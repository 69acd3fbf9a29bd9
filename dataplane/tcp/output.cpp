// Everything TCP sends: data segmented to the peer's MSS within the send and congestion windows
// (with Nagle and sender-side silly-window avoidance), SYNs with their options, ACKs (delayed or
// not), RSTs, and the window we advertise.
#include <algorithm>

#include "dataplane/tcp/tcp_stack.hpp"
#include "dataplane/wire/checksum.hpp"

namespace sluice::tcp {

using namespace wire::tcp_flag;

namespace {
bool may_send_data(TcpState s) {
    return s == TcpState::Established || s == TcpState::CloseWait || s == TcpState::FinWait1 ||
           s == TcpState::Closing || s == TcpState::LastAck;
}
}  // namespace

std::uint32_t TcpStack::ts_value(const Tcb& t) const {
    // RFC 7323 5.4: a millisecond clock with a random per-connection offset.
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now()).count();
    return static_cast<std::uint32_t>(ms) + t.ts_offset;
}

// RFC 6928's initial window: what may leave at once when pacing begins, as from a new connection
// (and NewReno's restart window, so a write no larger needs neither).
constexpr std::uint32_t kPacingFirstSegments = congestion::Controller::kInitialSegments;
// Below this many wheel ticks per RTT, releasing a quantum per tick paces nothing.
constexpr std::int64_t kPacingMinTicksPerRtt = 4;

Pacer::Entry* TcpStack::pacing(Tcb& t, std::uint32_t flight) {
    if (t.paced) {
        Pacer::Entry* e = pacer_.find(&t, t.generation);
        if (e != nullptr && !t.in_recovery && !t.rto_recovery && t.snd_nxt < e->until)
            return e;
        // A window went at the pace, or loss recovery took over, or another connection took
        // the entry: the window goes as it will.
        stop_pacing(t);
        return nullptr;
    }
    // Idle: nothing in flight and, for longer than an RTO (RFC 5681 4.1's test), nothing sent.
    if (flight != 0 || t.snd_nxt != t.snd_max || t.idle_since_us == 0 || t.in_recovery ||
        t.rto_recovery || !t.rtt.has_sample() ||
        t.unsent() <= kPacingFirstSegments * std::uint32_t{t.snd_mss}) {
        return nullptr;
    }
    const Nanos rto = t.rtt.rto(rto_bounds_);
    const auto idle =
        std::chrono::microseconds(static_cast<std::uint32_t>(now_us() - t.idle_since_us));
    if (idle < rto)
        return nullptr;
    // An algorithm that does not pace starts again from RFC 5681 4.1's restart window. (A write
    // of an initial window or less is not looked at: it fits the restart window whatever cwnd is.)
    if (t.cc.restarts_after_idle()) {
        t.cc.restart_after_idle(t.snd_mss);
        t.idle_since_us = now_us();  // once per idle period: the window regrows from here
        counters_.tcp_restart_windows += 1;
        return nullptr;
    }
    const Nanos srtt = t.rtt.srtt();
    if (srtt < kPacingMinTicksPerRtt * wheel_.tick())
        return nullptr;
    const std::uint64_t rate = t.cc.pacing_rate(srtt, /*after_idle=*/true);
    if (rate == 0)
        return nullptr;
    Pacer::Entry& e = pacer_.start(&t, t.generation, wheel_);
    e.timer.owner = flows_->slot_of(t);
    e.until = t.snd_nxt + t.cc.cwnd;
    const auto per_tick = static_cast<std::uint64_t>(
        static_cast<double>(rate) * std::chrono::duration<double>(wheel_.tick()).count());
    e.quantum = static_cast<std::uint32_t>(
        std::clamp<std::uint64_t>(per_tick, 2 * std::uint64_t{t.snd_mss}, t.cc.cwnd));
    e.budget = kPacingFirstSegments * t.snd_mss;
    t.paced = true;
    counters_.tcp_paced_windows += 1;
    return &e;
}

void TcpStack::stop_pacing(Tcb& t) {
    if (Pacer::Entry* e = pacer_.find(&t, t.generation))
        pacer_.forget(*e, wheel_);
    t.paced = false;
}

// A tick of a paced connection: the next quantum may go (unspent budget does not pile up past
// one quantum more, so a stall in sending is not followed by a burst).
void TcpStack::on_pacing_release(Pacer::Entry& e) {
    Tcb* t = lookup(e.timer.owner, e.generation);
    if (t == nullptr || t != e.tcb || !t->paced) {
        pacer_.forget(e, wheel_);
        return;
    }
    counters_.tcp_pacing_releases += 1;
    e.budget = std::min(e.budget + e.quantum, 2 * e.quantum);
    output(*t);
}

void TcpStack::output(Tcb& t, bool probe) {
    if (!may_send_data(t.state))
        return;
    const std::uint32_t sent_at = now_us();
    // What the congestion window is measured against: the data in flight, or in recovery the
    // pipe (RFC 6675 4), after the lost segments it has room for went again.
    std::uint32_t flight =
        t.in_recovery ? recovery_send(t) : static_cast<std::uint32_t>(t.snd_nxt - t.snd_una);
    // Pacing (pacer.hpp): new data goes no faster than the entry's budget; the wheel refills it.
    // Inline, the tests that rule pacing out for a request-response exchange's small answers.
    // Decided before cwnd is read: after idle, an algorithm that does not pace shrinks it.
    const bool may_pace = t.paced || (flight == 0 && t.idle_since_us != 0 &&
                                      t.unsent() > kPacingFirstSegments * std::uint32_t{t.snd_mss});
    Pacer::Entry* const pace = !probe && may_pace ? pacing(t, flight) : nullptr;
    // RFC 3042 limited transmit: the first two duplicate ACKs each let one new segment go.
    const std::uint32_t allowance =
        !t.in_recovery && !t.rto_recovery ? std::min<std::uint32_t>(t.dupacks, 2) * t.snd_mss : 0;
    const std::uint32_t cwnd = t.cc.cwnd + allowance;
    std::uint32_t pace_budget = pace != nullptr ? pace->budget : UINT32_MAX;
    bool held_by_pace = false;
    for (;;) {
        const auto sent = static_cast<std::uint32_t>(t.snd_nxt - t.snd_una);
        const std::uint32_t queued = t.send_queue.size();
        const std::uint32_t unsent = queued > sent ? queued - sent : 0;
        if (t.sack_ok && t.snd_nxt < t.snd_max) {
            // Going back after a timeout: what the peer SACKed needs no second trip.
            const auto behind = static_cast<std::uint32_t>(t.snd_max - t.snd_nxt);
            if (const std::uint32_t skip = t.send_queue.sacked_at(sent, behind); skip > 0) {
                t.snd_nxt += skip;
                continue;
            }
        }
        const std::uint32_t by_peer = t.snd_wnd > sent ? t.snd_wnd - sent : 0;
        // RFC 8985 7.3: a tail loss probe is one new segment, whatever cwnd says.
        std::uint32_t by_network = probe ? t.snd_mss : cwnd > flight ? cwnd - flight : 0;
        // In recovery PRR's allowance grows by fractions of a segment (RFC 9937 5): a segment
        // goes when the window has room for all of it, never cut down to the allowance.
        if (t.in_recovery && by_network < std::min<std::uint32_t>(unsent, t.snd_mss))
            by_network = 0;
        const std::uint32_t usable = std::min(by_peer, by_network);
        const std::uint32_t wanted = std::min({unsent, std::uint32_t{t.snd_mss}, usable});
        if (wanted == 0)
            break;
        if (wanted < t.snd_mss) {
            // RFC 9293 3.7.4 (Nagle): one small segment in flight at a time, unless disabled or
            // the data is the last before our FIN.
            if (!t.nodelay && sent > 0 && !t.fin_queued)
                break;
            // RFC 9293 3.8.6.2.1: do not send a window-limited sliver unless it is at least half
            // the largest window the peer has offered.
            if (wanted < unsent && wanted < t.max_snd_wnd / 2)
                break;
        }
        // A full-sized segment may end early to line segments up with the send queue's mbufs
        // again (so that the next ones go by reference); decided after Nagle, which never holds
        // a segment made shorter only here. A smaller one is all there is to send: never split.
        const std::uint32_t length =
            wanted == t.snd_mss ? t.send_queue.segment_length(sent, wanted) : wanted;
        if (length > pace_budget) {
            held_by_pace = true;
            break;
        }
        pace_budget -= pace != nullptr ? length : 0;
        const std::uint8_t flags = length == unsent ? (kAck | kPsh) : kAck;
        const bool retransmission = t.snd_nxt < t.snd_max;
        if (retransmission)
            count_retransmission(t, t.snd_nxt, length);
        send_segment(t, t.snd_nxt, flags, sent, length);
        // The scoreboard's clock: when each range last left (RACK, and the RTT without
        // timestamps).
        t.send_queue.note_sent(sent, length, sent_at, retransmission);
        if (t.in_recovery)
            t.cc.prr_sent(length);  // RFC 9937 prr_out
        t.snd_nxt += length;
        t.snd_max = seq_max(t.snd_max, t.snd_nxt);
        flight += length;
        if (probe)
            break;
    }
    if (pace != nullptr) {
        pace->budget = pace_budget;
        if (held_by_pace && !pace->timer.armed())
            wheel_.schedule(pace->timer, clock_.now() + wheel_.tick());
    }
    // The FIN follows the last byte (RFC 9293 3.10.4), window or not.
    if (t.fin_queued && t.snd_nxt == t.fin_seq) {
        send_segment(t, t.fin_seq, kFin | kAck, 0, 0);
        t.snd_nxt = t.fin_seq + 1;
        t.snd_max = seq_max(t.snd_max, t.snd_nxt);
    }
    rearm_timer(t);
}

std::uint16_t TcpStack::advertised_window(Tcb& t, bool syn) {
    const std::uint32_t held = t.receive_queue.readable() + t.receive_queue.out_of_order_bytes();
    const std::uint32_t space = config_.receive_buffer > held ? config_.receive_buffer - held : 0;
    if (syn) {
        // RFC 7323 2.2: the window in a SYN is never scaled.
        const std::uint32_t w = std::min<std::uint32_t>(space, 65535);
        t.rcv_adv = t.rcv_nxt + w;
        return static_cast<std::uint16_t>(w);
    }
    // Offer only what the scale can express, and move the right edge only by a useful amount
    // (RFC 9293 3.8.6.2.2, receiver-side silly-window avoidance); never shrink it.
    const std::uint32_t max_window = 65535u << t.rcv_wscale;
    const std::uint32_t offer = std::min(space, max_window) >> t.rcv_wscale << t.rcv_wscale;
    const SeqNum candidate = t.rcv_nxt + offer;
    const std::uint32_t threshold = std::min<std::uint32_t>(config_.receive_buffer / 2, our_mss_);
    if (candidate > t.rcv_adv &&
        (static_cast<std::uint32_t>(candidate - t.rcv_adv) >= threshold || offer == space)) {
        t.rcv_adv = candidate;
    }
    if (t.rcv_adv < t.rcv_nxt)
        t.rcv_adv = t.rcv_nxt;
    const auto window = static_cast<std::uint32_t>(t.rcv_adv - t.rcv_nxt) >> t.rcv_wscale;
    return static_cast<std::uint16_t>(std::min<std::uint32_t>(window, 65535));
}

void TcpStack::maybe_send_window_update(Tcb& t) {
    if (!is_synchronized(t.state) || t.peer_fin)
        return;
    const std::uint32_t held = t.receive_queue.readable() + t.receive_queue.out_of_order_bytes();
    const std::uint32_t space = config_.receive_buffer > held ? config_.receive_buffer - held : 0;
    const auto offered =
        static_cast<std::uint32_t>(std::max<std::int32_t>(t.rcv_adv - t.rcv_nxt, 0));
    // Tell the peer once the window has grown by two segments or half the buffer (as Linux does).
    const std::uint32_t worth = std::min<std::uint32_t>(2u * our_mss_, config_.receive_buffer / 2);
    if (space > offered && space - offered >= worth) {
        // Read while the burst is handled (from on_readable): the burst's ACK will carry it.
        if (in_burst_) {
            hold_ack_for_burst(t);
        } else {
            send_ack(t);
        }
    }
}

void TcpStack::schedule_ack(Tcb& t, bool immediately) {
    if (immediately) {
        t.ack_now = true;
        return;
    }
    if (t.ack_pending)
        return;
    t.ack_pending = true;
    if (t.ack_queued)
        return;  // its entry expires sooner: the ACK goes then
    if (delayed_acks_.push(
            {flows_->slot_of(t), t.generation, clock_.now() + config_.delayed_ack})) {
        t.ack_queued = true;
    } else {
        t.ack_now = true;  // no room to wait: ACK at once, which is always allowed
    }
}

void TcpStack::hold_ack_for_burst(Tcb& t) {
    schedule_ack(t, /*immediately=*/false);
    if (!burst_acks_.add(flows_->slot_of(t), t.generation)) {
        send_burst_acks();
        (void)burst_acks_.add(flows_->slot_of(t), t.generation);  // empty now: always room
    }
}

void TcpStack::send_burst_acks() {
    in_burst_ = false;
    burst_acks_.drain([this](const BurstAcks::Entry& e) {
        // Data sent since, or an earlier entry, may have carried the ACK already.
        if (Tcb* t = lookup(e.slot, e.generation); t != nullptr && t->ack_pending)
            send_ack(*t);
    });
}

void TcpStack::send_syn(Tcb& t) {
    const bool active = t.state == TcpState::SynSent;
    if (t.retries == 0) {
        t.rtt_timing = true;
        t.rack_xmit_us = now_us();  // RACK has nothing to judge until the handshake is done
    }
    send_segment(t, t.iss(), active ? kSyn : (kSyn | kAck), 0, 0);
}

void TcpStack::send_segment(Tcb& t, SeqNum seq, std::uint8_t flags, std::uint32_t payload_offset,
                            std::uint32_t payload_length) {
    const bool syn = (flags & kSyn) != 0;
    const bool active_syn = syn && t.state == TcpState::SynSent;
    wire::TcpHeader th;
    th.source_port = t.tuple.local_port;
    th.destination_port = t.tuple.remote_port;
    th.seq = seq;
    th.flags = flags;
    th.ack = (flags & kAck) ? t.rcv_nxt : SeqNum(0);
    th.window = advertised_window(t, syn);
    if (syn) {
        // Offer everything on an active open; on a SYN-ACK, only what the peer offered.
        th.options.mss = our_mss_;
        if (active_syn || t.wscale_ok)
            th.options.window_scale = our_wscale_;
        if ((active_syn && config_.sack) || t.sack_ok)
            th.options.sack_permitted = true;
        if (active_syn || t.ts_ok) {
            th.options.timestamps = wire::TcpTimestamps{ts_value(t), active_syn ? 0 : t.ts_recent};
        }
    } else {
        if (t.ts_ok)
            th.options.timestamps = wire::TcpTimestamps{ts_value(t), t.ts_recent};
        if (t.sack_ok && (flags & kAck) &&
            (t.receive_queue.has_out_of_order() || pending_dsack_.slot == flows_->slot_of(t))) {
            // RFC 6691: options and payload together within the MSS; a full data segment has no
            // room, so an ACK owed with blocks follows it alone (ack_now below).
            const std::uint32_t room = t.snd_mss > payload_length ? t.snd_mss - payload_length : 0;
            fill_sack_blocks(t, th.options, room);
        }
    }
    const std::size_t header_length = wire::TcpHeader::kMinLength + th.options.encoded_length();
    // Data that is one whole send-queue mbuf goes by reference, headers in its headroom; the
    // rest (a segment spanning mbufs, or one a device still holds) is copied into a fresh mbuf.
    std::byte* p = nullptr;
    rte_mbuf* m =
        payload_length == 0
            ? nullptr
            : t.send_queue.frame(payload_offset, payload_length,
                                 static_cast<std::uint16_t>(header_length + kTransportHeadroom));
    if (m != nullptr) {
        p = reinterpret_cast<std::byte*>(
            rte_pktmbuf_prepend(m, static_cast<std::uint16_t>(header_length)));
        counters_.tcp_segments_sent_by_reference += 1;
    } else {
        m = rte_pktmbuf_alloc(pool_);
        if (m == nullptr) {
            counters_.drop(DropReason::MbufExhausted);
            return;
        }
        p = reinterpret_cast<std::byte*>(
            rte_pktmbuf_append(m, static_cast<std::uint16_t>(header_length + payload_length)));
        if (p == nullptr) {
            rte_pktmbuf_free(m);
            counters_.drop(DropReason::NoHeadroom);
            return;
        }
        if (payload_length > 0)
            t.send_queue.copy_out(payload_offset, payload_length, p + header_length);
    }
    th.emit({p, header_length});

    const std::span<std::byte> segment(p, header_length + payload_length);
    if (link_.offloads.tcp == TcpChecksums::Off) {
        // Both ends trust the link: the field stays as emit() left it, 0.
    } else if (link_.offloads.tx_tcp) {
        m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
        m->l4_len = static_cast<std::uint8_t>(header_length);
        wire::store_be16(
            p + wire::kTcpChecksumOffset,
            wire::tcp_pseudo_header_checksum(t.tuple.local_address(), t.tuple.remote_address(),
                                             static_cast<std::uint16_t>(segment.size())));
    } else {
        wire::store_be16(
            p + wire::kTcpChecksumOffset,
            wire::tcp_checksum(t.tuple.local_address(), t.tuple.remote_address(), segment));
    }
    if (flags & kAck) {
        t.last_ack_sent = t.rcv_nxt;
        t.ack_pending = false;  // a queued entry stays, and finds nothing owed
        // Data that had no room for the SACK blocks an out-of-order arrival owes the peer leaves
        // the ACK owed: a plain one with the blocks follows.
        t.ack_now = payload_length > 0 && t.sack_ok && th.options.sack_block_count == 0 &&
                    t.ack_now && t.receive_queue.has_out_of_order();
    }
    counters_.tcp_segments_sent += 1;
    transmit(m, t.tuple);
}

void TcpStack::send_reset(const flow::FourTuple& tuple, SeqNum seq, SeqNum ack, bool with_ack) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr) {
        counters_.drop(DropReason::MbufExhausted);
        return;
    }
    wire::TcpHeader th;
    th.source_port = tuple.local_port;
    th.destination_port = tuple.remote_port;
    th.seq = seq;
    th.ack = with_ack ? ack : SeqNum(0);
    th.flags = with_ack ? (kRst | kAck) : kRst;
    auto* p = reinterpret_cast<std::byte*>(rte_pktmbuf_append(m, wire::TcpHeader::kMinLength));
    th.emit({p, wire::TcpHeader::kMinLength});
    if (link_.offloads.tcp != TcpChecksums::Off) {
        wire::store_be16(p + wire::kTcpChecksumOffset,
                         wire::tcp_checksum(tuple.local_address(), tuple.remote_address(),
                                            {p, wire::TcpHeader::kMinLength}));
    }
    counters_.tcp_resets_sent += 1;
    counters_.tcp_segments_sent += 1;
    transmit(m, tuple);
}

void TcpStack::transmit(rte_mbuf* m, const flow::FourTuple& tuple) {
    link_.sender->send_transport(m, wire::ip_protocol::kTcp, tuple.remote_address());
}

}  // namespace sluice::tcp
