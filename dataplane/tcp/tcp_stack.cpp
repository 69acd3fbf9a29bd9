// TcpStack: creation, connection lifetime, state changes, and the application interface.
#include "dataplane/tcp/tcp_stack.hpp"

#include <algorithm>

#include "dataplane/util/log.hpp"

namespace sluice::tcp {

namespace {
constexpr std::uint16_t kEphemeralFirst = 49152;  // RFC 6335 6: the dynamic range
constexpr std::uint16_t kEphemeralLast = 65535;
constexpr std::uint32_t kEphemeralCount = kEphemeralLast - kEphemeralFirst + 1;
// Connections that may wait for a delayed ACK at once; more ACK at once. 65,536 waiting within
// 40 ms is 1.6 million delayed ACKs a second, and the queue costs 1 MiB.
constexpr std::uint32_t kDelayedAckQueueLimit = 65536;
}  // namespace

Result<std::unique_ptr<TcpStack>, std::string> TcpStack::create(
    const TcpConfig& config, const TransportLink& link, rte_mempool* pool, WorkerCounters& counters,
    const Clock& clock, const std::string& name, const flow::RssModel* device_rss) {
    if (link.sender == nullptr)
        return Unexpected{std::string("TCP needs a layer beneath it to send through")};
    if (auto registered = register_queue_field(); !registered)
        return Unexpected{registered.error()};
    std::unique_ptr<TcpStack> stack(new TcpStack(config, link, pool, counters, clock));
    auto flows = flow::FlowTable<Tcb>::create(name + "_flows", config.max_connections, device_rss);
    if (!flows)
        return Unexpected{flows.error()};
    stack->flows_ = std::move(flows.value());
    return stack;
}

TcpStack::TcpStack(const TcpConfig& config, const TransportLink& link, rte_mempool* pool,
                   WorkerCounters& counters, const Clock& clock)
    : config_(config),
      link_(link),
      pool_(pool),
      counters_(counters),
      clock_(clock),
      wheel_(clock.now()),
      delayed_acks_(std::min<std::uint32_t>(config.max_connections, kDelayedAckQueueLimit)),
      rto_bounds_(RtoBounds::from(config.min_rto, config.max_rto, config.initial_rto)) {
    // RFC 9293 3.7.1: the MSS we offer is what fits our MTU without IP and TCP headers.
    // A segment must also fit one mbuf: headers in the headroom, TCP header and payload after it.
    const unsigned room = rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM - 60;
    our_mss_ = static_cast<std::uint16_t>(std::min<unsigned>(link.mtu - 40, room));
    // The smallest shift that lets the whole receive buffer be offered (RFC 7323 2.3: at most 14).
    while (our_wscale_ < 14 && (config.receive_buffer >> our_wscale_) > 65535)
        ++our_wscale_;
    next_ephemeral_ = static_cast<std::uint16_t>(
        kEphemeralFirst + isn_.keyed_hash(flow::FourTuple{}) % kEphemeralCount);
    // A whole receive window of segments of 512 bytes or more: nothing inside the window is
    // dropped for want of room unless the peer sends smaller ones.
    max_out_of_order_ = config.max_out_of_order_segments != 0
                            ? config.max_out_of_order_segments
                            : std::max<std::uint32_t>(config.receive_buffer / 512, 64);
    max_out_of_order_worker_ = config.max_out_of_order_worker_segments != 0
                                   ? config.max_out_of_order_worker_segments
                                   : std::max<std::uint32_t>(pool->size / 2, 1);
}

TcpStack::~TcpStack() {
    for (std::uint32_t slot = 0; slot < flows_->slots(); ++slot) {
        Tcb& t = *flows_->at(slot);
        if (t.state == TcpState::Closed)
            continue;
        wheel_.cancel(t.timer);
        t.send_queue.clear();
        t.receive_queue.clear();
    }
}

Tcb* TcpStack::allocate(const flow::FourTuple& tuple) {
    Tcb* t = flows_->insert(tuple);
    if (t == nullptr)
        return nullptr;
    const std::uint32_t generation = t->generation;
    const std::uint32_t slot = flows_->slot_of(*t);
    // Reinitialise field by field: the queues and timer entries are not assignable.
    t->send_queue.clear();
    t->receive_queue.clear();
    t->tuple = tuple;
    t->state = TcpState::Closed;
    t->generation = generation;
    t->snd_wnd = t->max_snd_wnd = 0;
    t->snd_mss = 536;
    t->snd_wscale = t->rcv_wscale = 0;
    t->wscale_ok = t->ts_ok = t->sack_ok = false;
    t->nodelay = !config_.nagle;
    t->keepalive = config_.keepalive;
    t->fin_queued = t->app_closed = t->want_writable = t->passive = t->peer_fin = false;
    t->rtt_timing = t->ack_pending = t->ack_queued = t->pooled_port = false;
    t->ts_recent = 0;
    t->ts_recent_time = {};
    t->ts_offset = static_cast<std::uint32_t>(isn_.keyed_hash(tuple) >> 32);
    t->rtt = RttEstimator{};
    t->cc = congestion::Controller{};
    t->cc.algorithm = config_.congestion;
    t->in_recovery = t->rto_recovery = t->una_advanced = t->probe_sent = false;
    t->reordering_seen = t->reo_wnd_raised = t->paced = false;
    t->rack_xmit_us = t->rack_rtt_us = 0;
    t->dupacks = t->retries = 0;
    t->total_retransmits = 0;
    t->timer.owner = slot;
    t->timer_kind = TimerKind::None;
    t->last_received = Stamp32<std::chrono::milliseconds>::at(clock_.now());
    t->handler = nullptr;
    t->user_data = nullptr;
    t->snd_una = isn_.generate(tuple, clock_.now());  // the ISS (Tcb::iss())
    t->recover = t->snd_una;
    ++by_state_[static_cast<std::size_t>(TcpState::Closed)];
    return t;
}

void TcpStack::set_state(Tcb& t, TcpState next) {
    if (t.state == next)
        return;
    --by_state_[static_cast<std::size_t>(t.state)];
    ++by_state_[static_cast<std::size_t>(next)];
    if (next == TcpState::Established)
        counters_.tcp_established += 1;
    if (t.state == TcpState::SynReceived && t.passive) {
        if (Listener* l = find_listener(t.tuple.local_port))
            --l->half_open;
    }
    SLUICE_LOG(DEBUG, dataplane, "%s %.*s -> %.*s", t.tuple.to_string().c_str(),
               static_cast<int>(state_name(t.state).size()), state_name(t.state).data(),
               static_cast<int>(state_name(next).size()), state_name(next).data());
    t.state = next;
}

void TcpStack::finish(Tcb& t, api::CloseReason reason) {
    api::ConnectionHandler* handler = t.handler;
    const api::Connection handle = handle_of(t);
    void* user_data = t.user_data;
    release(t);
    // The callback comes after the slot is released: whatever it does (connect again, say) finds
    // a consistent stack, and the old handle is already invalid.
    if (handler != nullptr)
        report_closed(handler, handle, user_data, reason);
}

void TcpStack::report_closed(api::ConnectionHandler* handler, api::Connection handle,
                             void* user_data, api::CloseReason reason) {
    // Kept and put back: an on_closed may close another connection, whose on_closed runs inside.
    const Closing outer = closing_;
    closing_ = Closing{handle.slot(), handle.generation(), user_data};
    handler->on_closed(handle, reason);
    closing_ = outer;
}

void TcpStack::release(Tcb& t) {
    // Erasing from the flow table makes the slot's tuple a free-list link: keep a copy.
    const flow::FourTuple tuple = t.tuple;
    wheel_.cancel(t.timer);
    t.send_queue.clear();
    t.receive_queue.clear();
    set_state(t, TcpState::Closed);
    --by_state_[static_cast<std::size_t>(TcpState::Closed)];
    ++t.generation;
    t.handler = nullptr;
    counters_.tcp_closed += 1;
    flows_->erase(tuple);
    if (t.pooled_port && arrangements_ != nullptr) {
        t.pooled_port = false;
        arrangements_->give_back_port(LocalEndpoint{tuple.local_ip, tuple.local_port});
    }
}

bool TcpStack::has_listener(std::uint16_t port) const {
    for (const Listener& l : listeners_) {
        if (l.port == port)
            return true;
    }
    return false;
}

Listener* TcpStack::find_listener(std::uint16_t port) {
    for (Listener& l : listeners_) {
        if (l.port == port)
            return &l;
    }
    return nullptr;
}

void TcpStack::initialise_send_side(Tcb& t) {
    t.snd_nxt = t.iss() + 1;  // the SYN
    t.snd_max = t.snd_nxt;
}

void TcpStack::apply_syn_options(Tcb& t, const wire::TcpHeader& th) {
    const wire::TcpOptions& o = th.options;
    // RFC 9293 3.7.1: 536 when the option is absent.
    const std::uint16_t peer_mss = o.mss.value_or(536);
    // RFC 7323 2.2: scaling only when both SYNs carry the option; 2.3: a shift above 14 is 14.
    t.wscale_ok = o.window_scale.has_value();
    t.snd_wscale = t.wscale_ok ? std::min<std::uint8_t>(*o.window_scale, 14) : 0;
    t.rcv_wscale = t.wscale_ok ? our_wscale_ : 0;
    t.ts_ok = o.timestamps.has_value();
    if (t.ts_ok) {
        t.ts_recent = o.timestamps->value;
        t.ts_recent_time = Stamp32<std::chrono::seconds>::at(clock_.now());
    }
    t.sack_ok = o.sack_permitted && config_.sack;
    const std::uint16_t mss = std::min(peer_mss, our_mss_);
    // The payload per segment leaves room for the options every segment carries.
    t.snd_mss = static_cast<std::uint16_t>(std::max(mss - (t.ts_ok ? 12 : 0), 64));
    t.cc.start(t.cc.algorithm, t.snd_mss);
}

std::uint16_t TcpStack::pick_ephemeral_port(wire::Ipv4Address ip, std::uint16_t port) {
    const wire::Ipv4Address local = link_.address;
    for (std::uint32_t tried = 0; tried < kEphemeralCount; ++tried) {
        const std::uint16_t candidate = next_ephemeral_;
        next_ephemeral_ = next_ephemeral_ == kEphemeralLast
                              ? kEphemeralFirst
                              : static_cast<std::uint16_t>(next_ephemeral_ + 1);
        if (find_listener(candidate) != nullptr)
            continue;
        // A port is free for this peer while no connection (TIME-WAIT included) uses the 4-tuple.
        if (flows_->find(flow::FourTuple::make(local, candidate, ip, port)) == nullptr) {
            return candidate;
        }
    }
    return 0;
}

// --- the application interface ---

Status<api::Errno> TcpStack::listen(std::uint16_t port, api::ListenHandler* handler) {
    if (port == 0 || handler == nullptr)
        return Unexpected{EINVAL};
    if (find_listener(port) != nullptr)
        return Unexpected{EADDRINUSE};
    listeners_.push_back(Listener{port, handler, 0});
    return {};
}

Status<api::Errno> TcpStack::unlisten(std::uint16_t port) {
    const auto it = std::find_if(listeners_.begin(), listeners_.end(),
                                 [port](const Listener& l) { return l.port == port; });
    if (it == listeners_.end())
        return Unexpected{ENOENT};
    // Half-open connections of this listener are reset; established ones stay (they are the
    // application's already).
    for (std::uint32_t slot = 0; slot < flows_->slots(); ++slot) {
        Tcb& t = *flows_->at(slot);
        if (t.state == TcpState::SynReceived && t.passive && t.tuple.local_port == port)
            abort(t);
    }
    listeners_.erase(it);
    return {};
}

Result<api::Connection, api::Errno> TcpStack::connect(wire::Ipv4Address ip, std::uint16_t port,
                                                      api::ConnectionHandler* handler) {
    if (port == 0 || ip.is_any() || ip.is_multicast() || ip.is_limited_broadcast()) {
        return Unexpected{EINVAL};
    }
    flow::FourTuple tuple;
    if (arrangements_ != nullptr) {
        const auto local = arrangements_->take_port(ip.host(), port);
        if (!local) {
            counters_.tcp_connect_failures += 1;
            counters_.tcp_ephemeral_exhausted += 1;
            return Unexpected{EADDRNOTAVAIL};
        }
        tuple =
            flow::FourTuple::make(wire::Ipv4Address::from_host(local->ip), local->port, ip, port);
    } else {
        const std::uint16_t local_port = pick_ephemeral_port(ip, port);
        if (local_port == 0) {
            counters_.tcp_connect_failures += 1;
            counters_.tcp_ephemeral_exhausted += 1;
            return Unexpected{EADDRNOTAVAIL};
        }
        tuple = flow::FourTuple::make(link_.address, local_port, ip, port);
    }
    Tcb* t = allocate(tuple);
    if (t == nullptr) {
        if (arrangements_ != nullptr) {
            arrangements_->give_back_port(LocalEndpoint{tuple.local_ip, tuple.local_port});
        }
        counters_.tcp_connect_failures += 1;
        return Unexpected{ENOBUFS};
    }
    t->pooled_port = arrangements_ != nullptr;
    t->handler = handler;
    initialise_send_side(*t);
    t->rcv_wscale = our_wscale_;  // offered; kept only if the peer's SYN-ACK has the option too
    set_state(*t, TcpState::SynSent);
    counters_.tcp_active_opens += 1;
    send_syn(*t);
    rearm_timer(*t);
    return handle_of(*t);
}

api::Connection TcpStack::handle_of(Tcb& t) {
    return api::Connection(this, flows_->slot_of(t), t.generation);
}

std::uint32_t TcpStack::send_space(const Tcb& t) const {
    return config_.send_buffer > t.send_queue.size() ? config_.send_buffer - t.send_queue.size()
                                                     : 0;
}

namespace {
bool can_send(TcpState s) {
    return s == TcpState::Established || s == TcpState::CloseWait || s == TcpState::SynSent ||
           s == TcpState::SynReceived;
}
}  // namespace

Result<std::size_t, api::Errno> TcpStack::send(Tcb& t, std::span<const std::byte> data) {
    if (t.fin_queued || !can_send(t.state))
        return Unexpected{EPIPE};
    if (data.empty())
        return std::size_t{0};
    const std::uint32_t room = send_space(t);
    const std::uint32_t taken =
        room == 0 ? 0 : t.send_queue.append_copy(data, room, t.snd_mss, pool_);
    if (taken < data.size())
        t.want_writable = true;
    if (taken == 0) {
        if (room > 0)
            counters_.drop(DropReason::MbufExhausted);
        return Unexpected{EAGAIN};
    }
    if (is_synchronized(t.state))
        output(t);
    return std::size_t{taken};
}

Result<std::size_t, api::Errno> TcpStack::send_chain(Tcb& t, rte_mbuf* chain) {
    if (t.fin_queued || !can_send(t.state))
        return Unexpected{EPIPE};
    if (chain->pkt_len > send_space(t)) {
        t.want_writable = true;
        return Unexpected{EAGAIN};
    }
    const std::size_t bytes = chain->pkt_len;
    if (!t.send_queue.append_chain(chain, pool_)) {
        counters_.drop(DropReason::MbufExhausted);
        return Unexpected{ENOBUFS};
    }
    if (is_synchronized(t.state))
        output(t);
    return bytes;
}

rte_mbuf* TcpStack::receive_buffer(Tcb& t) {
    rte_mbuf* m = t.receive_queue.pop();
    if (m != nullptr)
        maybe_send_window_update(t);
    return m;
}

std::size_t TcpStack::read(Tcb& t, std::span<std::byte> out) {
    const std::size_t n = t.receive_queue.read(out);
    if (n > 0)
        maybe_send_window_update(t);
    return n;
}

Status<api::Errno> TcpStack::shutdown_write(Tcb& t) {
    if (t.fin_queued)
        return {};
    switch (t.state) {
        case TcpState::SynSent:
            // Nothing was ever synchronized: forget the attempt (RFC 9293 3.10.4).
            finish(t, api::CloseReason::Closed);
            return {};
        case TcpState::SynReceived:
        case TcpState::Established:
            set_state(t, TcpState::FinWait1);
            break;
        case TcpState::CloseWait:
            set_state(t, TcpState::LastAck);
            break;
        default:
            return Unexpected{ENOTCONN};
    }
    t.fin_queued = true;
    t.fin_seq = t.snd_una + t.send_queue.size();
    if (t.state != TcpState::SynReceived)
        output(t);
    return {};
}

Status<api::Errno> TcpStack::close(Tcb& t) {
    t.app_closed = true;
    // In TIME-WAIT still reading what came before the peer's FIN (enter_time_wait()): both
    // sides are done, so whatever is left unread goes, with no reset.
    if (t.state == TcpState::TimeWait) {
        end_for_application(t);
        return {};
    }
    // RFC 2525 2.17 (and Linux): closing with unread data resets the connection, so that the peer
    // learns its data was not consumed.
    if (t.receive_queue.readable() > 0 && is_synchronized(t.state)) {
        abort(t);
        return {};
    }
    t.receive_queue.clear();
    if (t.state == TcpState::SynSent) {
        finish(t, api::CloseReason::Closed);
        return {};
    }
    return shutdown_write(t);
}

void TcpStack::abort(Tcb& t) {
    // RFC 9293 3.10.5: a RST for synchronized and SYN-RECEIVED connections; nothing otherwise.
    if (t.state != TcpState::SynSent && t.state != TcpState::TimeWait) {
        send_reset(t.tuple, t.snd_nxt, t.rcv_nxt, /*with_ack=*/true);
    }
    finish(t, api::CloseReason::Aborted);
}

void TcpStack::set_keepalive(Tcb& t, bool on) {
    t.keepalive = on;
    // RFC 9293 3.8.4: arm the idle timer now rather than when the next segment arrives, which on an
    // idle connection to a dead peer is never; turning keepalive off cancels a pending probe.
    rearm_timer(t);
}

api::ConnectionInfo TcpStack::info(const Tcb& t) const {
    api::ConnectionInfo i{};
    i.tuple = t.tuple;
    i.state = t.state;
    i.send_queue_bytes = t.send_queue.size();
    i.receive_queue_bytes = t.receive_queue.readable();
    i.bytes_in_flight = t.bytes_in_flight();
    i.cwnd = t.cc.cwnd;
    i.ssthresh = t.cc.ssthresh;
    i.send_window = t.snd_wnd;
    i.mss = t.snd_mss;
    i.srtt = t.rtt.srtt();
    i.rttvar = t.rtt.rttvar();
    i.rto = t.rtt.rto(rto_bounds_);
    i.retransmits = t.total_retransmits;
    i.congestion = t.cc.algorithm;
    i.sack = t.sack_ok;
    i.in_recovery = t.in_recovery;
    i.reordering_seen = t.reordering_seen;
    i.reorder_window = std::chrono::microseconds(reorder_window_us(t));
    return i;
}

std::size_t TcpStack::connections_page(std::size_t skip, std::span<api::ConnectionInfo> out) const {
    std::size_t seen = 0;
    std::size_t filled = 0;
    for (std::uint32_t slot = 0; slot < flows_->slots() && filled < out.size(); ++slot) {
        const Tcb& t = *flows_->at(slot);
        if (t.state == TcpState::Closed)
            continue;
        if (seen++ >= skip)
            out[filled++] = info(t);
    }
    return filled;
}

std::vector<api::ConnectionInfo> TcpStack::connections() {
    std::vector<api::ConnectionInfo> out;
    for (std::uint32_t slot = 0; slot < flows_->slots(); ++slot) {
        const Tcb& t = *flows_->at(slot);
        if (t.state != TcpState::Closed)
            out.push_back(info(t));
    }
    return out;
}

}  // namespace sluice::tcp
