// The transmission control block of one connection (RFC 9293 3.3.1), in a slot of the worker's
// flow table. The variable names follow the RFC's (SND.UNA is snd_una, and so on).
#pragma once

#include <cstdint>

#include <sluice/connection.hpp>
#include <sluice/four_tuple.hpp>
#include <sluice/tcp_state.hpp>
#include "dataplane/tcp/congestion/controller.hpp"
#include "dataplane/tcp/receive_queue.hpp"
#include "dataplane/tcp/rtt.hpp"
#include "dataplane/tcp/send_queue.hpp"
#include "dataplane/tcp/seq.hpp"
#include "dataplane/timers/timer_wheel.hpp"

namespace sluice::tcp {

// What the connection's one retransmission-class timer is doing now (only one applies at a time).
// TailLossProbe stands in for Retransmit while a probe may still save a timeout (RFC 8985 7), and
// RackReorder while RACK waits out the reordering window before calling a segment lost.
enum class TimerKind : std::uint8_t {
    None,
    Retransmit,
    TailLossProbe,
    RackReorder,  // RACK's reordering timer (RFC 8985 6.3): a segment becomes overdue then
    Persist,
    Keepalive,
    FinWait2,
    TimeWait
};

// Ten million of these must fit in memory (bench/scale), so fields are ordered to leave no holes,
// times are 32-bit stamps, and the RTO bounds and the delayed ACK live in the stack, not here; a
// static_assert below keeps the size from creeping up. The fields a data segment touches come
// first, in the first cache line.
struct Tcb {
    flow::FourTuple tuple;         // first: the flow index compares it on every hit
    std::uint32_t generation = 0;  // bumped when the slot is released; handles compare it

    // Send sequence space (RFC 9293 3.3.1). snd_max is the highest sequence number ever sent:
    // snd_nxt goes back to snd_una when the retransmission timer fires. ISS is not kept: until our
    // SYN is acknowledged it is SND.UNA, and after that nothing needs it.
    SeqNum snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2;
    std::uint32_t snd_wnd = 0;  // bytes, scaled

    // Receive sequence space. rcv_adv is the right edge of the window last advertised; the window
    // never shrinks (RFC 9293 3.8.6.2.2). IRS is not kept either: in SYN-RECEIVED, the only state
    // that asks, it is RCV.NXT - 1.
    SeqNum rcv_nxt, rcv_adv;
    SeqNum last_ack_sent;

    std::uint16_t snd_mss = 536;  // payload bytes per segment we send (options subtracted)
    TcpState state = TcpState::Closed;
    TimerKind timer_kind = TimerKind::None;  // what `timer` is doing
    std::uint8_t snd_wscale = 0;             // the peer's shift, applied to windows it sends
    std::uint8_t rcv_wscale = 0;             // our shift, applied to windows we send

    bool wscale_ok : 1 = false;
    bool ts_ok : 1 = false;
    bool sack_ok : 1 = false;
    bool nodelay : 1 = false;
    bool keepalive : 1 = false;
    bool fin_queued : 1 = false;     // shutdown_write() or close(): FIN after the queued data
    bool app_closed : 1 = false;     // close(): no more reads, no callbacks but on_closed
    bool want_writable : 1 = false;  // a send() did not fit: tell on_writable
    bool passive : 1 = false;        // came from a listener
    bool peer_fin : 1 = false;       // the peer's FIN was received
    bool rtt_timing : 1 = false;     // rack_xmit_us times our SYN (RFC 6298 2.2)
    bool ack_pending : 1 = false;    // an ACK is owed, within the delayed-ACK time
    bool ack_queued : 1 = false;     // the stack's DelayedAckQueue holds an entry for this TCB
    bool ack_now : 1 = false;        // an ACK is owed at the end of this segment's processing
    bool pooled_port : 1 = false;    // the local port came from PortArrangements: give it back
    bool in_recovery : 1 = false;    // fast recovery (RFC 6582, RFC 6675) until SND.UNA >= recover
    bool rto_recovery : 1 = false;   // go-back-N after a timeout, until SND.UNA >= recover
    bool una_advanced : 1 = false;   // SND.UNA moved since the retransmission timer was armed
    bool probe_sent : 1 = false;     // a tail loss probe is out, unanswered (RFC 8985 7)
    bool reordering_seen : 1 = false;  // RACK.reordering_seen (RFC 8985 6.2 step 3)
    bool reo_wnd_raised : 1 = false;   // a D-SACK widened RACK's window in this recovery
    bool paced : 1 = false;            // the worker's Pacer holds an entry for it (pacer.hpp)

    std::uint8_t dupacks = 0;
    std::uint8_t retries = 0;      // consecutive expiries of the current timer
    std::uint8_t probes_sent = 0;  // keepalive probes since the peer was last heard

    // Timestamps (RFC 7323 3, 4.3, 5).
    std::uint32_t ts_recent = 0;
    std::uint32_t ts_offset = 0;  // per-connection random offset for our TSval (RFC 7323 5.4)
    Stamp32<std::chrono::seconds> ts_recent_time;  // for PAWS's 24-day rule (5.5)

    // Congestion control (congestion/controller.hpp) and loss recovery (loss_recovery.cpp).
    congestion::Controller cc;
    SeqNum recover;                 // RFC 6582 3.2: SND.MAX when recovery began
    std::uint32_t max_snd_wnd = 0;  // RFC 5961 5.2's MAX.SND.WND
    std::uint32_t total_retransmits = 0;

    SeqNum fin_seq;  // our FIN's sequence number, once the application asked for it

    // RACK (RFC 8985 6.1, loss_recovery.cpp): the send time, end and round-trip time of the most
    // recently sent segment known to have arrived; rack_xmit_us is 0 while none is (nothing was
    // SACKed since all data was last acknowledged), so a clean path never looks at the scoreboard.
    // While the handshake is on (rtt_timing), rack_xmit_us holds our SYN's send time instead,
    // for the first RTT sample: RACK has nothing to judge before there is data, and the TCB
    // saves a field. Data is timed from the send queue's per-segment send times.
    std::uint32_t rack_xmit_us = 0;
    SeqNum rack_end;
    union {
        std::uint32_t rack_rtt_us = 0;  // while rack_xmit_us is not 0
        // While nothing is in flight (so rack_xmit_us is 0): when the last of it was
        // acknowledged, a microsecond stamp (0: nothing sent yet). An idle period longer than
        // an RTO lets the congestion controller pace the next window (output.cpp).
        std::uint32_t idle_since_us;
    };

    RttEstimator rtt;
    Stamp32<std::chrono::milliseconds> last_received;  // for keepalive

    SendQueue send_queue;
    ReceiveQueue receive_queue;
    TimerEntry timer;  // one of TimerKind

    api::ConnectionHandler* handler = nullptr;
    void* user_data = nullptr;
    // A passive connection's listener is the one on its local port: unlisten() resets the
    // half-open ones first, so no pointer is kept.

    // Our SYN's sequence number, while it is unacknowledged (SYN-SENT, SYN-RECEIVED).
    SeqNum iss() const { return snd_una; }
    std::uint32_t bytes_in_flight() const { return static_cast<std::uint32_t>(snd_max - snd_una); }
    // Bytes queued but never sent.
    std::uint32_t unsent() const {
        const auto sent = static_cast<std::uint32_t>(snd_nxt - snd_una);
        return send_queue.size() > sent ? send_queue.size() - sent : 0;
    }
    bool fin_sent() const { return fin_queued && snd_max > fin_seq; }
    bool fin_acked() const { return fin_queued && snd_una > fin_seq; }
};

// bench/scale's target is 256 bytes of engine state per idle connection, index included (8 bytes
// of buckets per connection): a field added here must pay for itself.
static_assert(sizeof(Tcb) <= 248, "the TCB outgrew its memory budget");

}  // namespace sluice::tcp
