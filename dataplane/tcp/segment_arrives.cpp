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

// Ticks of the peer's timestamp clock by which a segment may lag TS.Recent (Linux's
// TCP_PAWS_WINDOW).
constexpr std::int32_t kPawsWindow = 1;

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
    const ChecksumOffloads& offloads = link_.offloads;
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
    after_silence_ = t->last_received.age(clock_.now()) >= kSilence;
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
        t.una_advanced = true;
        handshake_rtt(t);
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
    // RFC 7323 5.3 R1: a timestamp older than TS.Recent marks an old duplicate. One tick of the
    // peer's clock is forgiven, as Linux forgives it (TCP_PAWS_WINDOW): a segment the network
    // held back a moment behind a retransmission that refreshed TS.Recent is no old duplicate,
    // and dropping it drops the ACK it carries (at 5 % loss and 10 % reordering from Linux, 4 %
    // of its segments were dropped so, and each lost ACK cost a timeout).
    if (!t.ts_ok || !th.options.timestamps || th.has(kRst))
        return false;
    const auto delta = static_cast<std::int32_t>(th.options.timestamps->value - t.ts_recent);
    if (delta >= -kPawsWindow)
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
    // One liberty beyond RFC 9293's table, which Linux takes too (tcp_sequence()): a segment of
    // no length exactly at the right edge of the window. A peer whose data filled the window we
    // offered numbers its plain ACKs there; refusing them refuses every acknowledgment it sends
    // until it hears of a new window, and after our timeout, when it has received past SND.UNA,
    // neither side would ever hear the other. Never a RST (RFC 5961 3.2 wants it in the window).
    const bool ack_at_right_edge = seg_len == 0 && !th.has(kRst) && th.seq == t.rcv_nxt + rcv_wnd;
    if (!segment_acceptable(th.seq, seg_len, t.rcv_nxt, rcv_wnd) && !ack_at_right_edge) {
        counters_.drop(DropReason::TcpNotAcceptable);
        rte_pktmbuf_free(payload);
        // Data we had already: a retransmission whose ACK was lost, reported as a D-SACK
        // (RFC 2883 4) so that the sender can tell a spurious retransmission.
        if (payload_length > 0 && th.seq + payload_length <= t.rcv_nxt && !th.has(kRst))
            note_duplicate(t, th.seq, th.seq + payload_length);
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

    // seventh: text (an early FIN is held with it).
    const bool fin_in_order = process_text(t, th, payload);
    if (payload != nullptr)
        rte_pktmbuf_free(payload);
    if (!alive(t, generation))
        return;

    // eighth: FIN, once everything before it has arrived.
    if (fin_in_order && !t.peer_fin) {
        process_fin(t);
        if (!alive(t, generation))
            return;
    }
    output(t);
    // An ACK owed at once that no data segment carried goes out alone.
    if (alive(t, generation) && t.ack_now)
        send_ack(t);
}

}  // namespace sluice::tcp
