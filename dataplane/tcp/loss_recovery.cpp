// Loss detection and recovery: fast retransmit and NewReno's partial ACKs (RFC 5681 3.2,
// RFC 6582), SACK-based recovery (RFC 6675) over the send queue's scoreboard, limited transmit
// (RFC 3042), and the re-sending of a retransmission that was lost too (RFC 8985 6.2's rule).
// docs/loss-recovery.md tells the whole story.
#include <algorithm>

#include "dataplane/tcp/tcp_stack.hpp"

namespace sluice::tcp {

using namespace wire::tcp_flag;

std::uint32_t TcpStack::now_us() const {
    return static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(clock_.now()).count());
}

// A retransmission unSACKed this long after data sent later was SACKed is lost too: a smoothed
// RTT and a quarter (RFC 8985 6.2's RTT + reordering window), or the RTO before any sample.
std::uint32_t TcpStack::lost_retransmission_after_us(const Tcb& t) const {
    const Nanos srtt = t.rtt.srtt();
    const Nanos wait = srtt.count() > 0 ? srtt + srtt / 4 : t.rtt.rto(rto_bounds_);
    return static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(wait).count());
}

SendQueue::Assessment TcpStack::assess_scoreboard(Tcb& t) {
    const auto sent =
        std::min(static_cast<std::uint32_t>(t.snd_max - t.snd_una), t.send_queue.size());
    const SendQueue::Assessment a = t.send_queue.assess(sent, (t.cc.reordering - 1U) * t.snd_mss,
                                                        now_us(), lost_retransmission_after_us(t));
    counters_.tcp_lost_retransmissions += a.lost_again;
    return a;
}

void TcpStack::duplicate_ack(Tcb& t) {
    if (t.dupacks < UINT8_MAX)
        ++t.dupacks;
    if (t.in_recovery)
        return;  // output() sends what the pipe now allows
    // RFC 6582 4.1: after a timeout, duplicates of what go-back-N sent again are no new loss.
    if (t.rto_recovery)
        return;
    // RFC 5681 3.2: the third duplicate; RFC 6675 5: or SACKed data far enough above SND.UNA
    // that the first segment is lost, whatever the count.
    const bool lost = t.dupacks >= t.cc.reordering || (t.sack_ok && assess_scoreboard(t).any_lost);
    if (lost) {
        enter_recovery(t);
    } else if (t.unsent() > 0) {
        counters_.tcp_limited_transmits += 1;  // RFC 3042: output() may send one more segment
    }
}

// A D-SACK for data below SND.UNA says a retransmission was not needed: the original arrived,
// late (RFC 2883 5, RFC 3708). The path reorders; wait for one more segment's worth of evidence
// before calling a hole lost next time, as Linux raises tp->reordering.
void TcpStack::spurious_retransmission(Tcb& t) {
    if (t.cc.reordering < congestion::Controller::kMaxReordering)
        t.cc.reordering += 1;
}

void TcpStack::enter_recovery(Tcb& t) {
    // RFC 6582 3.2 step 2 and RFC 6675 5 step 4.
    t.in_recovery = true;
    t.recover = t.snd_max;
    // RFC 3042 2: segments limited transmit sent beyond cwnd are left out of the FlightSize the
    // new ssthresh is computed from.
    t.cc.on_loss(std::min(t.bytes_in_flight(), t.cc.cwnd), t.snd_mss, clock_.now());
    counters_.tcp_recoveries += 1;
    counters_.tcp_fast_retransmits += 1;
    // The first unacknowledged segment goes at once (RFC 5681 3.2 step 3, RFC 6675 5 step 4.3).
    retransmit_first(t);
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
    t.cc.on_recovery_end(t.bytes_in_flight(), t.snd_mss);
}

void TcpStack::retransmit_first(Tcb& t) {
    const std::uint32_t queued = t.send_queue.size();
    if (queued == 0) {
        // Only our FIN is outstanding.
        if (t.fin_sent() && !t.fin_acked()) {
            send_segment(t, t.fin_seq, kFin | kAck, 0, 0);
            count_retransmission(t);
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
        count_retransmission(t);
        done += piece;
    }
    t.send_queue.note_sent(offset, length, now_us(), /*retransmission=*/true);
    t.rtt_timing = false;  // Karn: whatever was being timed may now be ambiguous
}

void TcpStack::count_retransmission(Tcb& t) {
    counters_.tcp_retransmitted_segments += 1;
    t.total_retransmits += 1;
}

std::uint32_t TcpStack::recovery_send(Tcb& t) {
    if (!t.sack_ok) {
        // NewReno: every duplicate ACK is a segment that left the network (RFC 5681 3.2 step 4's
        // window inflation, counted the other way round).
        const std::uint32_t departed = std::uint32_t{t.dupacks} * t.snd_mss;
        const std::uint32_t flight = t.bytes_in_flight();
        return flight > departed ? flight - departed : 0;
    }
    // RFC 6675 5 step (C): while the pipe has room, the lowest lost segment not yet resent.
    // Bounded: each pass resends one range or stops.
    for (;;) {
        const SendQueue::Assessment a = assess_scoreboard(t);
        if (a.pipe >= t.cc.cwnd || a.lost_length == 0)
            return a.pipe;
        retransmit_range(t, a.lost_offset, a.lost_length);
    }
}

}  // namespace sluice::tcp
