// RFC 9293 3.10.7 "SEGMENT ARRIVES", in the RFC's order: CLOSED (no TCB), LISTEN, SYN-SENT, and the
// other states' eight steps, with RFC 5961's changes to steps 2, 4 and 5 and RFC 7323's PAWS
// before step 1.
#include <algorithm>

#include "dataplane/tcp/tcp_stack.hpp"

namespace sluice::tcp {

namespace {

using namespace wire::tcp_flag;

// SEG.LEN counts SYN and FIN as one each (RFC 9293 3.4).
std::uint32_t segment_length(const wire::TcpHeader& th, std::uint32_t payload) {
    return payload + (th.has(kSyn) ? 1 : 0) + (th.has(kFin) ? 1 : 0);
}

// RFC 7323 5.5: a TS.Recent older than 24 days is not trusted to reject anything.
constexpr Nanos kPawsIdleLimit = std::chrono::hours(24 * 24);

// The most in-order data one held ACK covers (burst_acks.hpp): Linux's GRO limit.
constexpr std::uint32_t kMaxBurstAckBytes = 64 * 1024;

}  // namespace

Tcb* TcpStack::find_flow(const flow::FourTuple& tuple, const rte_mbuf& segment) {
    if (!flows_->uses_device_hash() || (segment.ol_flags & RTE_MBUF_F_RX_RSS_HASH) == 0)
        return flows_->find(tuple);
    // The NIC hashed this tuple with the table's own key: no hashing here.
    if (Tcb* t = flows_->find_with_device_hash(tuple, segment.hash.rss))
        return t;
    // A miss is rare (a SYN, a stray segment), so it can afford to check the device's hash:
    // correctness never rests on a NIC reporting the hash it was told to compute.
    Tcb* t = flows_->find(tuple);
    if (t != nullptr)
        counters_.flow_device_hash_mismatches += 1;
    return t;
}

void TcpStack::receive(rte_mbuf* segment, const wire::Ipv4Header& ip) {
    counters_.tcp_segments_received += 1;
    in_burst_ = true;
    const ChecksumOffloads& offloads = net_.offloads();
    const bool device_checked =
        offloads.tcp != TcpChecksums::Full ||
        (offloads.rx_tcp &&
         (segment->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD);
    const std::span<const std::byte> bytes(rte_pktmbuf_mtod(segment, const std::byte*),
                                           segment->data_len);
    const auto th =
        wire::TcpHeader::parse(bytes, ip.source, ip.destination,
                               device_checked ? wire::TransportChecksum::VerifiedByDevice
                                              : wire::TransportChecksum::Verify);
    if (!th) {
        counters_.drop(th.error());
        rte_pktmbuf_free(segment);
        return;
    }
    rte_pktmbuf_adj(segment, th->header_length);
    const std::uint32_t payload = segment->data_len;
    counters_.tcp_bytes_received += payload;

    const auto tuple =
        flow::FourTuple::make(ip.destination, th->destination_port, ip.source, th->source_port);
    Tcb* t = find_flow(tuple, *segment);
    if (t != nullptr && t->state == TcpState::TimeWait && th->has(kSyn) && !th->has(kAck) &&
        timewait_allows_new_syn(*t, *th)) {
        // RFC 6191 (and RFC 9293 3.10.7.4's note on TIME-WAIT): a new incarnation may start.
        release(*t);
        t = nullptr;
    }
    if (t == nullptr) {
        Listener* listener = find_listener(th->destination_port);
        if (listener == nullptr && arrangements_ != nullptr) {
            // Perhaps another worker's connection (an active open whose answers RSS did not bring
            // back to us): the whole frame goes to its owner, which parses it again.
            const auto headers =
                static_cast<std::uint16_t>(segment->l2_len + segment->l3_len + th->header_length);
            if (rte_pktmbuf_prepend(segment, headers) != nullptr) {
                if (arrangements_->steer(segment, tuple)) {
                    // The owner counts it when it processes it.
                    counters_.tcp_segments_received -= 1;
                    counters_.tcp_bytes_received -= payload;
                    return;
                }
                rte_pktmbuf_adj(segment, headers);
            }
        }
        if (Listener* l = listener) {
            segment_for_listener(*l, *th, ip, payload);
        } else {
            segment_for_no_connection(*th, ip, payload);
        }
        rte_pktmbuf_free(segment);
        return;
    }
    t->last_received = Stamp32<std::chrono::milliseconds>::at(clock_.now());
    t->probes_sent = 0;
    if (t->state == TcpState::SynSent) {
        segment_in_syn_sent(*t, *th, segment);
    } else {
        segment_in_synchronized(*t, *th, segment);
    }
}

// RFC 6191 2: with timestamps on both incarnations, a newer timestamp, or the same one and a higher
// sequence number; without, a higher sequence number.
bool TcpStack::timewait_allows_new_syn(const Tcb& t, const wire::TcpHeader& th) const {
    if (t.ts_ok && th.options.timestamps) {
        const std::uint32_t value = th.options.timestamps->value;
        if (value != t.ts_recent)
            return static_cast<std::int32_t>(value - t.ts_recent) > 0;
    }
    return th.seq > t.rcv_nxt;
}

// RFC 9293 3.10.7.1: no TCB. Everything but a RST gets a RST.
void TcpStack::segment_for_no_connection(const wire::TcpHeader& th, const wire::Ipv4Header& ip,
                                         std::uint32_t payload_length) {
    counters_.drop(DropReason::TcpNoConnection);
    if (th.has(kRst))
        return;
    const auto tuple =
        flow::FourTuple::make(ip.destination, th.destination_port, ip.source, th.source_port);
    if (th.has(kAck)) {
        send_reset(tuple, th.ack, SeqNum(0), /*with_ack=*/false);
    } else {
        send_reset(tuple, SeqNum(0), th.seq + segment_length(th, payload_length),
                   /*with_ack=*/true);
    }
}

// RFC 9293 3.10.7.2: LISTEN.
void TcpStack::segment_for_listener(Listener& l, const wire::TcpHeader& th,
                                    const wire::Ipv4Header& ip, std::uint32_t payload_length) {
    const auto tuple =
        flow::FourTuple::make(ip.destination, th.destination_port, ip.source, th.source_port);
    if (th.has(kRst)) {  // first: ignore
        counters_.drop(DropReason::TcpNoConnection);
        return;
    }
    if (th.has(kAck)) {  // second: <SEQ=SEG.ACK><CTL=RST>
        counters_.drop(DropReason::TcpNoConnection);
        send_reset(tuple, th.ack, SeqNum(0), /*with_ack=*/false);
        return;
    }
    if (!th.has(kSyn)) {  // fourth: anything else is dropped
        counters_.drop(DropReason::TcpUnexpected);
        return;
    }
    (void)payload_length;  // data on a SYN is not queued: the peer sends it again once ACKed
    if (l.half_open >= config_.listen_backlog) {
        counters_.drop(DropReason::TcpListenOverflow);
        return;
    }
    Tcb* t = allocate(tuple);
    if (t == nullptr) {
        counters_.drop(DropReason::TcpTableFull);
        return;
    }
    // third: the SYN.
    t->passive = true;
    ++l.half_open;
    t->rcv_nxt = th.seq + 1;
    apply_syn_options(*t, th);
    t->snd_wnd = th.window;  // RFC 7323 2.2: a SYN's window is never scaled
    t->max_snd_wnd = t->snd_wnd;
    t->snd_wl1 = th.seq;
    initialise_send_side(*t);
    t->snd_wl2 = t->iss();
    set_state(*t, TcpState::SynReceived);
    counters_.tcp_passive_opens += 1;
    send_syn(*t);
    rearm_timer(*t);
}

// RFC 9293 3.10.7.3: SYN-SENT.
void TcpStack::segment_in_syn_sent(Tcb& t, const wire::TcpHeader& th, rte_mbuf* payload) {
    rte_pktmbuf_free(payload);  // data on a SYN-ACK is rare; the peer retransmits it
    // first: the ACK must acknowledge our SYN.
    const bool ack_acceptable = th.has(kAck) && th.ack > t.iss() && th.ack <= t.snd_max;
    if (th.has(kAck) && !ack_acceptable) {
        counters_.drop(DropReason::TcpBadAck);
        if (!th.has(kRst))
            send_reset(t.tuple, th.ack, SeqNum(0), /*with_ack=*/false);
        return;
    }
    // second: RST. Only one that acknowledges our SYN is believed (RFC 5961 3's spirit).
    if (th.has(kRst)) {
        if (ack_acceptable) {
            counters_.tcp_resets_received += 1;
            counters_.tcp_connect_failures += 1;
            finish(t, api::CloseReason::Refused);
        } else {
            counters_.drop(DropReason::TcpUnexpected);
        }
        return;
    }
    // fourth: SYN.
    if (!th.has(kSyn)) {
        counters_.drop(DropReason::TcpUnexpected);
        return;
    }
    t.rcv_nxt = th.seq + 1;
    t.rcv_adv = t.rcv_nxt + std::min<std::uint32_t>(config_.receive_buffer, 65535);  // our SYN's
    apply_syn_options(t, th);
    t.snd_wnd = th.window;
    t.max_snd_wnd = t.snd_wnd;
    t.snd_wl1 = th.seq;
    t.snd_wl2 = th.ack;
    if (ack_acceptable) {
        t.snd_una = th.ack;
        if (t.rtt_timing && th.ack > t.rtt_seq)
            t.rtt.sample(t.rtt_start.age(clock_.now()), rto_bounds_);
        t.rtt_timing = false;
        t.retries = 0;
        set_state(t, TcpState::Established);
        send_ack(t);
        rearm_timer(t);
        const std::uint32_t generation = t.generation;
        if (t.handler != nullptr)
            t.handler->on_connected(handle_of(t));
        if (alive(t, generation))
            output(t);
        return;
    }
    // Simultaneous open (RFC 9293 3.5, figure 8): SYN-RECEIVED, and our SYN again with an ACK.
    set_state(t, TcpState::SynReceived);
    send_syn(t);
    rearm_timer(t);
}

bool TcpStack::paws_rejects(Tcb& t, const wire::TcpHeader& th) {
    // RFC 7323 5.3 R1: a timestamp older than TS.Recent marks an old duplicate.
    if (!t.ts_ok || !th.options.timestamps || th.has(kRst))
        return false;
    const auto delta = static_cast<std::int32_t>(th.options.timestamps->value - t.ts_recent);
    if (delta >= 0)
        return false;
    if (t.ts_recent_time.age(clock_.now()) > kPawsIdleLimit) {
        // R1's exception: after 24 idle days TS.Recent is stale; take the new value instead.
        t.ts_recent = th.options.timestamps->value;
        t.ts_recent_time = Stamp32<std::chrono::seconds>::at(clock_.now());
        return false;
    }
    return true;
}

void TcpStack::update_ts_recent(Tcb& t, const wire::TcpHeader& th) {
    // RFC 7323 4.3 (2): TS.Recent from a segment that covers Last.ACK.sent.
    if (!t.ts_ok || !th.options.timestamps)
        return;
    if (th.seq <= t.last_ack_sent &&
        static_cast<std::int32_t>(th.options.timestamps->value - t.ts_recent) >= 0) {
        t.ts_recent = th.options.timestamps->value;
        t.ts_recent_time = Stamp32<std::chrono::seconds>::at(clock_.now());
    }
}

void TcpStack::send_challenge_ack(Tcb& t) {
    // RFC 5961 7: a worker-wide budget per second, so an attacker cannot make us flood.
    const Nanos now = clock_.now();
    if (now - challenge_window_start_ >= std::chrono::seconds(1)) {
        challenge_window_start_ = now;
        challenge_acks_in_window_ = 0;
    }
    if (challenge_acks_in_window_ >= config_.challenge_ack_limit) {
        counters_.tcp_challenge_acks_suppressed += 1;
        return;
    }
    ++challenge_acks_in_window_;
    counters_.tcp_challenge_acks += 1;
    send_ack(t);
}

// RFC 9293 3.10.7.4: SYN-RECEIVED and every synchronized state.
void TcpStack::segment_in_synchronized(Tcb& t, const wire::TcpHeader& th, rte_mbuf* payload) {
    const std::uint32_t payload_length = payload->data_len;
    const std::uint32_t seg_len = segment_length(th, payload_length);
    const std::uint32_t generation = t.generation;

    // A retransmitted SYN while our SYN-ACK is unanswered: answer it again rather than challenge.
    if (t.state == TcpState::SynReceived && th.has(kSyn) && !th.has(kAck) &&
        th.seq == t.rcv_nxt - 1) {
        rte_pktmbuf_free(payload);
        send_syn(t);
        return;
    }

    // RFC 9293 3.10.7.4: in TIME-WAIT only a retransmission of the peer's FIN can arrive (its ACK
    // was lost): acknowledge it and restart the 2 MSL wait. A RST changes nothing (RFC 1337).
    if (t.state == TcpState::TimeWait) {
        rte_pktmbuf_free(payload);
        if (th.has(kRst)) {
            counters_.drop(DropReason::TcpUnexpected);
            return;
        }
        send_ack(t);
        if (th.has(kFin))
            enter_time_wait(t);
        return;
    }

    // PAWS (RFC 7323 5.3), before the sequence check.
    if (paws_rejects(t, th)) {
        counters_.drop(DropReason::TcpPaws);
        rte_pktmbuf_free(payload);
        send_ack(t);
        return;
    }

    // first: is the segment in the window?
    const auto rcv_wnd =
        static_cast<std::uint32_t>(std::max<std::int32_t>(t.rcv_adv - t.rcv_nxt, 0));
    if (!segment_acceptable(th.seq, seg_len, t.rcv_nxt, rcv_wnd)) {
        counters_.drop(DropReason::TcpNotAcceptable);
        rte_pktmbuf_free(payload);
        if (!th.has(kRst))
            send_ack(t);
        return;
    }

    // second: RST (RFC 5961 3.2: only an exact match resets; in the window, a challenge ACK).
    if (th.has(kRst)) {
        rte_pktmbuf_free(payload);
        if (th.seq != t.rcv_nxt) {
            send_challenge_ack(t);
            return;
        }
        counters_.tcp_resets_received += 1;
        if (t.state == TcpState::SynReceived && t.passive) {
            release(t);  // back to LISTEN: the listener never saw this connection
            return;
        }
        const bool orderly = t.state == TcpState::Closing || t.state == TcpState::LastAck;
        finish(t, orderly ? api::CloseReason::Closed : api::CloseReason::Reset);
        return;
    }

    // fourth: SYN in a synchronized state (RFC 5961 4.2): challenge ACK, whatever its number.
    if (th.has(kSyn)) {
        rte_pktmbuf_free(payload);
        send_challenge_ack(t);
        return;
    }

    // fifth: ACK.
    if (!th.has(kAck)) {
        counters_.drop(DropReason::TcpUnexpected);
        rte_pktmbuf_free(payload);
        return;
    }
    update_ts_recent(t, th);
    if (!process_ack(t, th, payload_length)) {
        rte_pktmbuf_free(payload);
        return;
    }
    if (!alive(t, generation)) {
        rte_pktmbuf_free(payload);
        return;
    }

    // seventh: text.
    process_text(t, th, payload);
    if (payload != nullptr)
        rte_pktmbuf_free(payload);
    if (!alive(t, generation))
        return;

    // eighth: FIN, once everything before it has arrived.
    if (th.has(kFin) && th.seq + payload_length == t.rcv_nxt && !t.peer_fin) {
        process_fin(t);
        if (!alive(t, generation))
            return;
    }
    output(t);
    // An ACK owed at once that no data segment carried goes out alone.
    if (alive(t, generation) && t.ack_now)
        send_ack(t);
}

// Step five. Returns false when the segment is to be dropped (or the connection ended).
bool TcpStack::process_ack(Tcb& t, const wire::TcpHeader& th, std::uint32_t payload_length) {
    const std::uint32_t generation = t.generation;
    if (t.state == TcpState::SynReceived) {
        if (!(th.ack > t.snd_una && th.ack <= t.snd_max)) {
            counters_.drop(DropReason::TcpBadAck);
            send_reset(t.tuple, th.ack, SeqNum(0), /*with_ack=*/false);
            return false;
        }
        t.snd_wnd = static_cast<std::uint32_t>(th.window) << t.snd_wscale;
        t.max_snd_wnd = std::max(t.max_snd_wnd, t.snd_wnd);
        t.snd_wl1 = th.seq;
        t.snd_wl2 = th.ack;
        t.snd_una = th.ack;
        t.retries = 0;
        t.rtt_timing = false;
        const bool closing = t.fin_queued;
        set_state(t, closing ? TcpState::FinWait1 : TcpState::Established);
        rearm_timer(t);
        if (t.passive && t.handler == nullptr) {
            Listener* l = find_listener(t.tuple.local_port);
            api::ConnectionHandler* h =
                l != nullptr ? l->handler->on_accept(handle_of(t)) : nullptr;
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
        if (!alive(t, generation))
            return false;
    }

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
    bool notify_writable = false;
    if (th.ack > t.snd_una) {
        const auto acked = static_cast<std::uint32_t>(th.ack - t.snd_una);
        // RTT: from the echoed timestamp (RFC 7323 4.1), else from the timed segment (Karn).
        if (t.ts_ok && th.options.timestamps && th.options.timestamps->echo_reply != 0) {
            const auto ms =
                static_cast<std::int32_t>(ts_value(t) - th.options.timestamps->echo_reply);
            if (ms >= 0)
                t.rtt.sample(std::chrono::milliseconds(ms), rto_bounds_);
        } else if (t.rtt_timing && th.ack > t.rtt_seq) {
            t.rtt.sample(t.rtt_start.age(clock_.now()), rto_bounds_);
            t.rtt_timing = false;
        }
        // The FIN takes a sequence number but no byte of the queue.
        const std::uint32_t data_acked = std::min(acked, t.send_queue.size());
        t.send_queue.consume(data_acked);
        t.snd_una = th.ack;
        if (t.snd_nxt < t.snd_una)
            t.snd_nxt = t.snd_una;
        t.retries = 0;
        t.dupacks = 0;
        // RFC 5681 3.1: slow start below ssthresh, then about one segment per round trip, both
        // counted in bytes acknowledged (RFC 3465) rather than in ACKs: receivers that ACK a
        // burst at a time (Linux's GRO, our burst_acks.hpp) send one ACK for up to 45 segments,
        // and counting ACKs would grow the window that many times too slowly. Slow start stops at
        // ssthresh, as Linux's tcp_slow_start() does.
        // Both saturate rather than wrap.
        if (t.cwnd < t.ssthresh) {
            t.cwnd = static_cast<std::uint32_t>(
                std::min<std::uint64_t>(std::uint64_t{t.cwnd} + data_acked, t.ssthresh));
        } else if (t.cwnd > 0) {
            const std::uint64_t share = std::uint64_t{t.snd_mss} * data_acked / t.cwnd;
            t.cwnd = static_cast<std::uint32_t>(std::min<std::uint64_t>(
                std::uint64_t{t.cwnd} + std::max<std::uint64_t>(1, share), UINT32_MAX));
        }
        counters_.tcp_bytes_sent += data_acked;
        // Told below, once the window is updated: the application's answer is to send, and
        // output() must not see the new SND.UNA with the old window (that sends past the peer's
        // right edge whenever its window shrinks relative to the data acknowledged).
        notify_writable = t.want_writable && send_space(t) > 0 && !t.fin_queued;
    } else if (th.ack == t.snd_una && t.bytes_in_flight() > 0 && window == t.snd_wnd &&
               payload_length == 0 && !th.has(kFin)) {
        // RFC 5681 2 and 3.2: a duplicate ACK (no data, same ACK and window, data outstanding).
        // The third starts a fast retransmit of the first unacknowledged segment.
        if (++t.dupacks == 3) {
            t.ssthresh = std::max(t.bytes_in_flight() / 2, 2u * t.snd_mss);
            t.cwnd = t.ssthresh;
            const std::uint32_t length = std::min<std::uint32_t>(t.snd_mss, t.send_queue.size());
            if (length > 0) {
                send_segment(t, t.snd_una, kAck, 0, length);
                counters_.tcp_fast_retransmits += 1;
                counters_.tcp_retransmitted_segments += 1;
                t.total_retransmits += 1;
                t.rtt_timing = false;
            }
        }
    }
    // RFC 9293 3.10.7.4: the window comes from the newest segment only.
    if (t.snd_wl1 < th.seq || (t.snd_wl1 == th.seq && t.snd_wl2 <= th.ack)) {
        t.snd_wnd = window;
        t.max_snd_wnd = std::max(t.max_snd_wnd, window);
        t.snd_wl1 = th.seq;
        t.snd_wl2 = th.ack;
    }
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

// Step seven: in-order data goes to the application, out-of-order data is held.
void TcpStack::process_text(Tcb& t, const wire::TcpHeader& th, rte_mbuf*& payload) {
    if (payload->data_len == 0)
        return;
    if (t.state != TcpState::Established && t.state != TcpState::FinWait1 &&
        t.state != TcpState::FinWait2) {
        return;  // after the peer's FIN, text is ignored
    }
    if (t.app_closed) {
        // Nobody will read it: tell the peer, as Linux does (RFC 9293 3.10.7.4, "abort").
        counters_.drop(DropReason::TcpAfterClose);
        abort(t);
        return;
    }
    // Cut what lies beyond the window we offered.
    const SeqNum window_end = t.rcv_adv;
    if (th.seq + payload->data_len > window_end) {
        const auto beyond = static_cast<std::uint32_t>((th.seq + payload->data_len) - window_end);
        rte_pktmbuf_trim(payload, static_cast<std::uint16_t>(
                                      std::min<std::uint32_t>(beyond, payload->data_len)));
    }
    const SeqNum before = t.rcv_nxt;
    const std::uint32_t length = payload->data_len;
    const auto outcome =
        t.receive_queue.insert(payload, th.seq, t.rcv_nxt, config_.max_out_of_order_segments);
    payload = nullptr;  // the queue owns it now
    t.rcv_nxt = outcome.rcv_nxt;
    if (outcome.held)
        counters_.tcp_out_of_order_segments += 1;
    if (outcome.dropped && th.seq > before)
        counters_.drop(DropReason::TcpOutOfOrderFull);

    if (t.rcv_nxt == before) {
        // Out of order or a duplicate: a duplicate ACK at once tells the sender (RFC 5681 4.2).
        schedule_ack(t, /*immediately=*/true);
        return;
    }
    // RFC 9293 3.8.6.3: ACK at least every second full-sized segment, once the receive burst is
    // handled (burst_acks.hpp); at once when the segment filled a gap or left one open
    // (RFC 5681 4.2); otherwise within the delayed-ACK time.
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
    } else if (two_segments_owed) {
        hold_ack_for_burst(t);
    } else {
        schedule_ack(t, /*immediately=*/false);
    }
    if (t.handler != nullptr)
        t.handler->on_readable(handle_of(t));
}

// Step eight.
void TcpStack::process_fin(Tcb& t) {
    t.peer_fin = true;
    t.rcv_nxt += 1;
    send_ack(t);
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
