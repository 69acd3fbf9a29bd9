#include "bench/perf/sluice_handlers.hpp"

#include <rte_mbuf.h>

#include "dataplane/services/pattern.hpp"

namespace sluice::perf {

namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t nanos_since(Clock::time_point then, Clock::time_point now) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - then).count());
}

// Consumes every waiting buffer without copying; returns the bytes.
std::uint64_t consume(api::Connection c) {
    std::uint64_t bytes = 0;
    while (rte_mbuf* m = c.receive()) {
        bytes += m->pkt_len;
        rte_pktmbuf_free(m);
    }
    return bytes;
}

}  // namespace

LoadClient::LoadClient(const LoadParams& params, tcp::TcpStack& tcp, wire::Ipv4Address server,
                       std::uint16_t port, ClientTally& tally)
    : params_(params),
      tcp_(tcp),
      server_(server),
      port_(port),
      tally_(tally),
      flows_(tcp.slot_count()) {}

void LoadClient::open_connections() {
    const std::uint32_t wanted = tally_.first_established ? params_.effective_connections() : 1;
    while (tally_.live < wanted) {
        auto c = tcp_.connect(server_, port_, this);
        if (!c) {
            // No free port or TCB this turn (crr between TIME-WAITs, say): try again next turn.
            ++tally_.connect_failures;
            return;
        }
        flows_[c->slot()] = Flow{};
        ++tally_.live;
    }
}

void LoadClient::on_connected(api::Connection c) {
    tally_.first_established = true;
    if (params_.workload == Workload::Stream)
        return;  // the server sends; we only read
    Flow& f = flows_[c.slot()];
    f.owed = std::uint64_t{params_.effective_pipeline()} * params_.size;
    if (tally_.record_latency || params_.workload == Workload::Latency)
        f.sent_at = Clock::now();
    write_owed(c);
}

void LoadClient::write_owed(api::Connection c) {
    Flow& f = flows_[c.slot()];
    while (f.owed > 0) {
        // The pattern block is 64 KiB; a request may be larger and goes out in pieces.
        const auto piece = services::pattern_at(0, static_cast<std::size_t>(f.owed));
        const auto sent = c.send(piece);
        if (!sent || *sent == 0)
            return;  // the send buffer is full: on_writable brings us back
        f.owed -= *sent;
    }
}

void LoadClient::on_readable(api::Connection c) {
    const std::uint64_t bytes = consume(c);
    if (params_.workload == Workload::Stream) {
        tally_.completed += bytes;
        return;
    }
    Flow& f = flows_[c.slot()];
    f.partial += bytes;
    const std::uint64_t responses = f.partial / params_.size;
    f.partial %= params_.size;
    if (responses == 0)
        return;
    if (params_.workload == Workload::Crr) {
        f.answered = true;  // counted once the server's FIN has come and we have closed
        return;
    }
    tally_.completed += responses;
    if (params_.workload == Workload::Latency) {
        const Clock::time_point now = Clock::now();
        if (tally_.record_latency)
            tally_.latency.record(nanos_since(f.sent_at, now));
        f.sent_at = now;
    }
    f.owed += responses * params_.size;
    write_owed(c);
}

void LoadClient::on_peer_closed(api::Connection c) {
    // Only crr's server closes, once it has answered; we close too, and the connection is over
    // when our FIN is acknowledged (on_closed).
    (void)c.close();
}

void LoadClient::on_closed(api::Connection c, api::CloseReason reason) {
    --tally_.live;
    Flow& f = flows_[c.slot()];
    if (params_.workload == Workload::Crr && f.answered && reason == api::CloseReason::Closed) {
        ++tally_.completed;
    } else {
        ++tally_.errors;  // rr, latency and stream connections are never closed while measuring
    }
    f = Flow{};
}

CrrServer::~CrrServer() {
    for (Flow& f : flows_)
        rte_pktmbuf_free(f.waiting);
}

api::ConnectionHandler* CrrServer::on_accept(api::Connection c) {
    flows_[c.slot()] = Flow{};
    return this;
}

void CrrServer::pump(api::Connection c) {
    Flow& f = flows_[c.slot()];
    for (;;) {
        rte_mbuf* m = f.waiting != nullptr ? f.waiting : c.receive();
        if (m == nullptr)
            break;
        const std::uint32_t length = m->pkt_len;
        if (!c.send_mbuf(m)) {
            f.waiting = m;  // on_writable brings us back
            return;
        }
        f.waiting = nullptr;
        f.echoed += length;
    }
    if (f.echoed >= size_ || c.peer_closed())
        (void)c.close();
}

void CrrServer::on_closed(api::Connection c, api::CloseReason) {
    Flow& f = flows_[c.slot()];
    rte_pktmbuf_free(f.waiting);
    f = Flow{};
}

}  // namespace sluice::perf
