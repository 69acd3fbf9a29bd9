// TCP on one worker: the flow table of TCBs, the listeners, the timers, and the RFC 9293 state
// machine between them. The layer beneath (NetStack in a worker) hands it every TCP segment for
// our address through receive(); it answers through the TransportSender it was created with
// (net/transport.hpp), so a test can drive it with segments alone. Applications reach it through
// api::Connection and listen()/connect().
//
// Input, output and deadlines are three calls (docs/architecture.md, "The worker loop"):
// receive(), output happens inside them and in poll_timers(), and poll_timers() runs what the
// wheel says is due. After a burst of receive() calls, send_burst_acks() sends the ACKs the
// burst's in-order data owes (burst_acks.hpp).
//
// Not thread-safe: one per worker, used only on that worker.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <sluice/connection.hpp>
#include "dataplane/flow/flow_table.hpp"
#include "dataplane/net/transport.hpp"
#include "dataplane/stats/counters.hpp"
#include "dataplane/tcp/burst_acks.hpp"
#include "dataplane/tcp/config.hpp"
#include "dataplane/tcp/delayed_ack_queue.hpp"
#include "dataplane/tcp/isn.hpp"
#include "dataplane/tcp/pacer.hpp"
#include "dataplane/tcp/port_arrangements.hpp"
#include "dataplane/tcp/recovery_undo.hpp"
#include "dataplane/tcp/tcb.hpp"
#include "dataplane/timers/timer_wheel.hpp"
#include "dataplane/wire/tcp.hpp"

namespace sluice::tcp {

class Listener {
  public:
    std::uint16_t port = 0;
    api::ListenHandler* handler = nullptr;
    std::uint32_t half_open = 0;  // connections in SYN-RECEIVED from this listener
};

class TcpStack final : public TransportReceiver {
  public:
    static Result<std::unique_ptr<TcpStack>, std::string> create(
        const TcpConfig& config, const TransportLink& link, rte_mempool* pool,
        WorkerCounters& counters, const Clock& clock, const std::string& name,
        const flow::RssModel* device_rss = nullptr);
    ~TcpStack() override;

    // From the layer beneath: a segment for our address; data starts at the TCP header. Takes
    // ownership.
    void receive(rte_mbuf* segment, const wire::Ipv4Header& ip) override;
    // After a burst of receive(): one ACK for each connection whose in-order data owes one by
    // the two-segment rule, covering everything the burst brought it (burst_acks.hpp).
    void send_burst_acks();
    // Fires due timers (retransmission, delayed ACK, persist, keepalive, TIME-WAIT).
    void poll_timers();

    // --- the application interface (see <sluice/connection.hpp>) ---
    Status<api::Errno> listen(std::uint16_t port, api::ListenHandler* handler);
    Status<api::Errno> unlisten(std::uint16_t port);
    // Active open to ip:port. The local port comes from this worker's ephemeral range.
    Result<api::Connection, api::Errno> connect(wire::Ipv4Address ip, std::uint16_t port,
                                                api::ConnectionHandler* handler);

    // Multi-worker engines: where connect() gets its ports and where foreign segments go.
    void set_port_arrangements(PortArrangements* p) { arrangements_ = p; }
    bool has_listener(std::uint16_t port) const;

    std::uint32_t connection_count() const { return flows_->size(); }
    Nanos now() const { return clock_.now(); }
    // The connection state preallocated for max_connections (TCBs and the flow index); buffers
    // are mbufs from the shared pool, taken only while they hold data.
    std::size_t state_bytes() const {
        return flows_->memory_bytes() + delayed_acks_.memory_bytes();
    }
    // Connection slots are numbered 0..slot_count()-1; services index per-connection state by them.
    std::size_t slot_count() const { return flows_->slots(); }
    std::uint32_t connections_in(TcpState s) const {
        return by_state_[static_cast<std::size_t>(s)];
    }
    const TcpConfig& config() const { return config_; }
    // Every connection, for reports (not for the fast path).
    std::vector<api::ConnectionInfo> connections();
    // Copies the connections after the first `skip` (in slot order) into `out`; returns how many.
    // Allocates nothing: for inspecting a running worker (multicore/inspection.hpp).
    std::size_t connections_page(std::size_t skip, std::span<api::ConnectionInfo> out) const;
    std::uint32_t listener_count() const { return static_cast<std::uint32_t>(listeners_.size()); }

    // --- used by api::Connection ---
    // Inline: every api::Connection call goes through it, several times per segment an
    // application reads.
    Tcb* lookup(std::uint32_t slot, std::uint32_t generation) {
        Tcb* t = flows_->at(slot);
        return t != nullptr && alive(*t, generation) ? t : nullptr;
    }
    api::Connection handle_of(Tcb& t);
    // While a connection's on_closed runs its slot is already released, but the handler still
    // needs what it hung on the connection to free it: user_data() answers for that handle.
    void* closing_user_data(std::uint32_t slot, std::uint32_t generation) const {
        return closing_.slot == slot && closing_.generation == generation ? closing_.user_data
                                                                          : nullptr;
    }
    Result<std::size_t, api::Errno> send(Tcb& t, std::span<const std::byte> data);
    Result<std::size_t, api::Errno> send_chain(Tcb& t, rte_mbuf* chain);
    rte_mbuf* receive_buffer(Tcb& t);
    std::size_t read(Tcb& t, std::span<std::byte> out);
    Status<api::Errno> shutdown_write(Tcb& t);
    Status<api::Errno> close(Tcb& t);
    void abort(Tcb& t);
    void set_keepalive(Tcb& t, bool on);
    api::ConnectionInfo info(const Tcb& t) const;
    std::uint32_t send_space(const Tcb& t) const;

  private:
    TcpStack(const TcpConfig& config, const TransportLink& link, rte_mempool* pool,
             WorkerCounters& counters, const Clock& clock);

    // tcp_stack.cpp: TCB lifetime and state
    Tcb* allocate(const flow::FourTuple& tuple);
    void set_state(Tcb& t, TcpState next);
    // Ends the connection: the final callback (if the application still has it), then the slot.
    void finish(Tcb& t, api::CloseReason reason);
    // Calls the handler's on_closed for a connection whose slot is gone (see closing_user_data).
    void report_closed(api::ConnectionHandler* handler, api::Connection handle, void* user_data,
                       api::CloseReason reason);
    struct Closing {
        std::uint32_t slot = UINT32_MAX;
        std::uint32_t generation = 0;
        void* user_data = nullptr;
    };
    Closing closing_;
    void release(Tcb& t);
    bool alive(const Tcb& t, std::uint32_t generation) const {
        return t.generation == generation && t.state != TcpState::Closed;
    }
    Listener* find_listener(std::uint16_t port);
    // The connection a received segment belongs to, reusing the device's RSS hash when it has one.
    Tcb* find_flow(const flow::FourTuple& tuple, const rte_mbuf& segment);
    std::uint16_t pick_ephemeral_port(wire::Ipv4Address ip, std::uint16_t port);
    void initialise_send_side(Tcb& t);
    void apply_syn_options(Tcb& t, const wire::TcpHeader& th);

    // segment_arrives.cpp: RFC 9293 3.10.7, one function per situation
    void segment_for_no_connection(const wire::TcpHeader& th, const wire::Ipv4Header& ip,
                                   std::uint32_t payload_length);
    void segment_for_listener(Listener& l, const wire::TcpHeader& th, const wire::Ipv4Header& ip,
                              std::uint32_t payload_length);
    void segment_in_syn_sent(Tcb& t, const wire::TcpHeader& th, rte_mbuf* payload);
    void segment_in_synchronized(Tcb& t, const wire::TcpHeader& th, rte_mbuf* payload);
    bool timewait_allows_new_syn(const Tcb& t, const wire::TcpHeader& th) const;
    bool paws_rejects(Tcb& t, const wire::TcpHeader& th);
    void update_ts_recent(Tcb& t, const wire::TcpHeader& th);
    void send_challenge_ack(Tcb& t);

    // ack_processing.cpp: the sender's half of the fifth step, one function per thing an ACK tells
    bool process_ack(Tcb& t, const wire::TcpHeader& th, std::uint32_t payload_length);
    bool ack_completes_passive_open(Tcb& t, const wire::TcpHeader& th);
    void handshake_rtt(Tcb& t);
    std::uint32_t sack_arrived(Tcb& t, const wire::TcpHeader& th);
    // `delivered`: the bytes the cumulative ACK delivered that no SACK had (RFC 9937's
    // DeliveredData, with what sack_arrived() returned).
    bool new_data_acked(Tcb& t, const wire::TcpHeader& th, const SendQueue::RackPoint& rack_before,
                        std::uint32_t& delivered);
    void take_rtt_sample(Tcb& t, const wire::TcpHeader& th);
    bool is_duplicate_ack(const Tcb& t, const wire::TcpHeader& th, std::uint32_t window,
                          std::uint32_t payload_length, std::uint32_t newly_sacked) const;
    void update_send_window(Tcb& t, const wire::TcpHeader& th, std::uint32_t window,
                            bool acks_new_data);

    // loss_recovery.cpp: fast retransmit, NewReno and SACK recovery (docs/loss-recovery.md)
    void duplicate_ack(Tcb& t);
    // After every ACK: is anything lost (RFC 5681 3.2, RFC 6675 5, RFC 8985 6.2 step 5)?
    // `delivered`: the bytes this ACK delivered (cumulatively or by SACK).
    void detect_loss(Tcb& t, bool duplicate, std::uint32_t delivered);
    void enter_recovery(Tcb& t, std::uint32_t delivered);
    // RFC 9937: on each ACK in SACK recovery, the window PRR allows.
    void proportional_rate_reduction(Tcb& t, std::uint32_t delivered, bool una_advanced);
    void spurious_retransmission(Tcb& t);
    // A D-SACK for [left, right), below SND.UNA: a retransmission the peer did not need. When
    // every segment a recovery resent has come back so, its window cut is undone (RFC 3708).
    void retransmission_dsacked(Tcb& t, SeqNum left, SeqNum right);
    void undo_recovery(Tcb& t, const RecoveryUndo::Entry& e);
    // The first retransmission timeout of an episode: what undoing it would restore.
    void remember_before_timeout(Tcb& t);
    // RFC 3522: does this ACK answer an original transmission sent before the timeout?
    bool acks_original_transmission(const Tcb& t, const wire::TcpHeader& th);
    // RFC 4015's response to a spurious timeout: the window back, and new data next.
    void undo_timeout(Tcb& t, const RecoveryUndo::Entry& e);
    void partial_ack(Tcb& t);
    void end_recovery(Tcb& t);
    // In recovery: resends lost ranges while the pipe has room; returns the pipe (RFC 6675 4).
    std::uint32_t recovery_send(Tcb& t);
    // Without SACK, the pipe: the data in flight less a segment per duplicate ACK.
    static std::uint32_t pipe_without_sack(const Tcb& t);
    void retransmit_first(Tcb& t);
    void retransmit_range(Tcb& t, std::uint32_t offset, std::uint32_t length);
    // [seq, seq + length) went again (a SYN or FIN counts one).
    void count_retransmission(Tcb& t, SeqNum seq, std::uint32_t length);
    SendQueue::Assessment assess_scoreboard(Tcb& t);
    // RACK's wait for the next segment to become overdue (RFC 8985 6.3), for the timer.
    std::uint32_t reorder_wait_us(Tcb& t);
    SendQueue::LossRules loss_rules(const Tcb& t) const;
    // RACK (RFC 8985 6): its reference point as the send queue sees it, moving it on to what an
    // ACK newly delivered, and how soon an answer to a retransmission is too soon to be its own.
    static SendQueue::RackPoint rack_point(const Tcb& t);
    void rack_advance(Tcb& t, const SendQueue::Delivery& d);
    static std::uint32_t ambiguous_answer_us(const Tcb& t);
    static std::uint32_t reorder_window_us(const Tcb& t);
    // The microsecond stamp of the scoreboard's send times; never 0, which means "unknown".
    std::uint32_t now_us() const;
    // RFC 5681 3.2's DupThresh: duplicate ACKs (or, RFC 6675, SACKed segments above a hole) that
    // call a segment lost, until the path has shown that it reorders.
    static constexpr std::uint8_t kDupThresh = 3;

    // receiver.cpp: the receiver's half: text, FIN, and the SACK blocks we send
    bool process_text(Tcb& t, const wire::TcpHeader& th, rte_mbuf*& payload);
    std::uint32_t out_of_order_limit(const Tcb& t) const;
    void process_fin(Tcb& t);
    void note_out_of_order(const Tcb& t, SeqNum seq);
    void note_duplicate(const Tcb& t, SeqNum left, SeqNum right);
    void fill_sack_blocks(const Tcb& t, wire::TcpOptions& o, std::uint32_t option_room);

    // output.cpp: everything that leaves
    // `probe`: a tail loss probe's one new segment, beyond cwnd (RFC 8985 7.3).
    void output(Tcb& t, bool probe = false);
    void send_segment(Tcb& t, SeqNum seq, std::uint8_t flags, std::uint32_t payload_offset,
                      std::uint32_t payload_length);
    // A plain ACK carries SND.MAX, as FreeBSD's do (after a timeout SND.NXT goes back to SND.UNA,
    // and a peer that has received past it discards a segment numbered there as old), but never
    // more than the right edge of the peer's window, as Linux's tcp_acceptable_seq() does (our
    // FIN may lie one past it): a number the peer always accepts, since what it has received
    // lies between SND.UNA and both of those.
    void send_ack(Tcb& t) { send_segment(t, plain_ack_seq(t), wire::tcp_flag::kAck, 0, 0); }
    static SeqNum plain_ack_seq(const Tcb& t) {
        return seq_max(t.snd_una, seq_min(t.snd_max, t.snd_wl2 + t.snd_wnd));
    }
    void send_syn(Tcb& t);
    void send_reset(const flow::FourTuple& tuple, SeqNum seq, SeqNum ack, bool with_ack);
    void schedule_ack(Tcb& t, bool immediately);
    // The two-segment rule's ACK, sent by send_burst_acks() once the burst is handled.
    void hold_ack_for_burst(Tcb& t);
    std::uint16_t advertised_window(Tcb& t, bool syn);
    void maybe_send_window_update(Tcb& t);
    void transmit(rte_mbuf* m, const flow::FourTuple& tuple);
    std::uint32_t ts_value(const Tcb& t) const;
    // The pacing entry output() must keep to now, if any: one the connection holds, or a new one
    // when its controller asks for a rate after an idle period (pacer.hpp).
    Pacer::Entry* pacing(Tcb& t, std::uint32_t flight);
    void stop_pacing(Tcb& t);
    void on_pacing_release(Pacer::Entry& e);

    // tcp_timers.cpp
    void rearm_timer(Tcb& t);
    void on_timer(TimerEntry& e);
    void on_delayed_ack(const DelayedAckQueue::Entry& e);
    void on_retransmit_timeout(Tcb& t);
    Nanos probe_timeout(const Tcb& t) const;
    void on_probe_timeout(Tcb& t);
    void on_reorder_timeout(Tcb& t);
    void on_persist_timeout(Tcb& t);
    void on_keepalive_timeout(Tcb& t);
    void enter_time_wait(Tcb& t);
    // In TIME-WAIT: the connection is over for the application (on_closed); the TCB waits alone.
    void end_for_application(Tcb& t);

    TcpConfig config_;
    const TransportLink link_;
    rte_mempool* pool_;
    WorkerCounters& counters_;
    const Clock& clock_;
    std::unique_ptr<flow::FlowTable<Tcb>> flows_;
    std::vector<Listener> listeners_;  // few; a linear scan on the SYN path only
    TimerWheel wheel_;
    DelayedAckQueue delayed_acks_;
    BurstAcks burst_acks_;
    // A silence after which in-order data is acknowledged at once (receiver.cpp): no longer than
    // the shortest probe timeout (two ticks past 2 SRTT, probe_timeout()), far longer than the
    // gaps inside a stream. last_received counts milliseconds.
    static constexpr Nanos kSilence = std::chrono::milliseconds(2);
    // The segment being handled is the first the connection heard for kSilence or more
    // (set by segment_arrives(), read by the receiver's ACK decision).
    bool after_silence_ = false;
    bool in_burst_ = false;  // between a receive() and send_burst_acks()
    RtoBounds rto_bounds_;
    IsnGenerator isn_;
    std::uint16_t our_mss_ = 1460;
    std::uint8_t our_wscale_ = 0;
    std::uint16_t next_ephemeral_ = 0;
    PortArrangements* arrangements_ = nullptr;
    std::array<std::uint32_t, kTcpStateCount> by_state_{};
    // Out-of-order segments a connection may hold (TcpConfig::max_out_of_order_segments, resolved).
    std::uint32_t max_out_of_order_ = 0;
    // Out-of-order segments all this worker's connections may hold together (resolved).
    std::uint32_t max_out_of_order_worker_ = 0;
    // The segment that last arrived out of order, for the first SACK block (RFC 2018 4), and a
    // duplicate to report as a D-SACK (RFC 2883): both go out with the ACK the same segment
    // makes us send at once, so one per worker is enough, and no TCB carries them.
    struct RecentSegment {
        std::uint32_t slot = UINT32_MAX;
        std::uint32_t generation = 0;
        SeqNum seq;
    } recent_out_of_order_;
    struct DuplicateRange {
        std::uint32_t slot = UINT32_MAX;
        std::uint32_t generation = 0;
        SeqNum left, right;
    } pending_dsack_;
    // The last scoreboard assessment and what it was made from. One ACK asks several times (PRR,
    // the lost segments to resend, RACK's timer), each a walk over everything in flight, and
    // usually nothing changed in between; one per worker is enough (loss_recovery.cpp).
    struct ScoreboardMemo {
        const Tcb* tcb = nullptr;
        std::uint32_t generation = 0;
        SendQueue::ChangeCount changes;
        SeqNum snd_una;
        std::uint32_t sent = 0;
        SendQueue::LossRules rules;
        SendQueue::Assessment assessment;
    } scoreboard_memo_;
    // What undoing a needless recovery takes, for the connections that entered one lately.
    RecoveryUndo recovery_undo_;
    // The connections being paced, one wheel entry each.
    Pacer pacer_;
    // RFC 5961 7: a per-second budget of challenge ACKs.
    Nanos challenge_window_start_{0};
    std::uint32_t challenge_acks_in_window_ = 0;
};

}  // namespace sluice::tcp
