// The application's view of TCP on one worker: callbacks in, calls out, no locks. Everything here
// is used only on the worker that owns the connection (docs/architecture.md rule 1); none of it is
// thread-safe.
//
// A Connection is a handle (slot and generation), cheap to copy; once the connection is gone every
// call through an old handle fails with ENOTCONN instead of touching a reused slot.
#pragma once

#include <cerrno>
#include <cstdint>
#include <span>
#include <string_view>

#include <rte_mbuf.h>

#include <sluice/congestion.hpp>
#include <sluice/four_tuple.hpp>
#include <sluice/result.hpp>
#include <sluice/tcp_state.hpp>
#include <sluice/time.hpp>

namespace sluice::tcp {
class TcpStack;
}

namespace sluice::api {

// errno values, as a socket user expects them (EAGAIN, ENOTCONN, EPIPE, ECONNRESET, ...).
using Errno = int;

// Why a connection ended, as the last callback tells it.
enum class CloseReason : std::uint8_t {
    Closed,    // both sides closed in order (or the application aborted)
    Reset,     // the peer sent a RST
    Refused,   // a RST answered our SYN
    TimedOut,  // retransmissions or keepalives went unanswered
    Aborted,   // the application called abort()
};
std::string_view close_reason_name(CloseReason r);
Errno close_reason_errno(CloseReason r);

struct ConnectionInfo {
    flow::FourTuple tuple;
    tcp::TcpState state;
    std::uint32_t send_queue_bytes;  // unacknowledged plus unsent
    std::uint32_t receive_queue_bytes;
    std::uint32_t bytes_in_flight;
    std::uint32_t cwnd;
    std::uint32_t ssthresh;
    std::uint32_t send_window;
    std::uint16_t mss;
    Nanos srtt;
    Nanos rttvar;
    Nanos rto;
    std::uint32_t retransmits;
    tcp::congestion::Algorithm congestion;
    bool sack;         // both ends agreed to selective acknowledgments (RFC 2018)
    bool in_recovery;  // fast recovery after a loss (RFC 6582, RFC 6675)
    // The path has delivered a segment after one sent later (RFC 8985 6.2): loss is then judged
    // by time alone, not by three duplicate ACKs.
    bool reordering_seen;
    // How long RACK waits past a segment's round trip before calling it lost (RFC 8985 6.2
    // step 4): a quarter of the smoothed RTT, one more quarter per D-SACKed retransmission, at
    // most the RTT. Zero until the first RTT sample.
    Nanos reorder_window;
};

class Connection {
  public:
    Connection() = default;
    Connection(tcp::TcpStack* stack, std::uint32_t slot, std::uint32_t generation)
        : stack_(stack), slot_(slot), generation_(generation) {}

    bool valid() const;
    // Copies up to data.size() bytes into the send buffer; returns how many. Errors: EAGAIN (the
    // buffer is full: on_writable comes when it has room), EPIPE (after shutdown_write or close,
    // or the connection is closing), ENOTCONN (the connection is gone).
    Result<std::size_t, Errno> send(std::span<const std::byte> data);
    // Hands over a chain of mbufs without copying; all or nothing. Errors: EAGAIN (it does not
    // fit: on_writable comes), ENOBUFS (a segment someone else also holds needs an mbuf of the
    // stack's own and the pool has none), EPIPE, ENOTCONN (as for send). On success the stack
    // owns the chain; on failure the caller still does.
    Result<std::size_t, Errno> send_mbuf(rte_mbuf* chain);
    // The next in-order buffer, owned by the caller (free it with rte_pktmbuf_free); nullptr when
    // nothing is waiting.
    rte_mbuf* receive();
    // Copies up to out.size() in-order bytes; 0 when nothing is waiting.
    std::size_t read(std::span<std::byte> out);
    // Copies up to out.size() in-order bytes without consuming them.
    std::size_t peek(std::span<std::byte> out) const;
    std::uint32_t readable() const;
    // The peer's FIN has arrived (everything it sent is readable or read).
    bool peer_closed() const;
    std::uint32_t send_space() const;
    // Sends FIN after what is queued (half-close); reading goes on. Errors: ENOTCONN (gone, or
    // already shut down).
    Status<Errno> shutdown_write();
    // shutdown_write, and the application will read no more: data still arriving is discarded and
    // the handler gets no more callbacks except the final on_closed. Unread data makes it a reset
    // (RFC 2525 2.17), so the peer learns it was not consumed. Errors: ENOTCONN.
    Status<Errno> close();
    // Sends RST and forgets the connection at once.
    void abort();
    Status<Errno> set_nodelay(bool on);
    Status<Errno> set_keepalive(bool on);
    // This connection's congestion control from now on (the engine's --congestion otherwise).
    // The window carries over; the new algorithm's own state starts afresh. set_nodelay,
    // set_keepalive, set_congestion and info fail only with ENOTCONN.
    Status<Errno> set_congestion(tcp::congestion::Algorithm algorithm);
    Result<ConnectionInfo, Errno> info() const;
    void set_user_data(void* p);
    void* user_data() const;

    std::uint32_t slot() const { return slot_; }
    std::uint32_t generation() const { return generation_; }
    friend bool operator==(const Connection&, const Connection&) = default;

  private:
    tcp::TcpStack* stack_ = nullptr;
    std::uint32_t slot_ = 0;
    std::uint32_t generation_ = 0;
};

// Receives a connection's events, on its worker, from inside the worker's loop. A callback may call
// anything on the Connection (send, close...), including on other connections.
class ConnectionHandler {
  public:
    virtual ~ConnectionHandler() = default;
    // Established: our connect() completed, or an accepted connection is ready.
    virtual void on_connected(Connection) {}
    // New in-order data is waiting.
    virtual void on_readable(Connection) {}
    // The send buffer has room again after a send() that did not fit.
    virtual void on_writable(Connection) {}
    // The peer sent FIN; everything before it has been made readable. It comes even when this
    // side had shut down writing already: what is unread stays readable until close() (which
    // then ends the connection without a reset) or until TIME-WAIT's 2 MSL are over.
    virtual void on_peer_closed(Connection) {}
    // The last callback. The connection is already gone: every call through the handle fails
    // with ENOTCONN, except user_data(), which still returns what was set so that the handler
    // can free it. Once on_closed returns, user_data() returns nullptr too.
    virtual void on_closed(Connection, CloseReason) {}
};

// Decides what to do with each connection a listener accepts.
class ListenHandler {
  public:
    virtual ~ListenHandler() = default;
    // Returns the handler for the new connection, or nullptr to refuse it (it is reset).
    virtual ConnectionHandler* on_accept(Connection) = 0;
};

}  // namespace sluice::api
