// A socket-like layer over one worker's TcpStack, so that classic non-blocking server and client
// code ports with little change: socket, bind, listen, accept, connect, read, write, shutdown,
// close, SO_ERROR, TCP_NODELAY, and a level-triggered readiness call in the manner of epoll_wait.
// Errors are the usual errno values, returned negated (as the kernel's system calls do).
//
// Descriptors are small integers from a fixed table sized at construction; nothing is allocated
// afterwards. Not thread-safe: use it on the worker that owns the stack (from its loop, or between
// its polls).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <sluice/connection.hpp>

namespace sluice {
class WorkerContext;
}

namespace sluice::api {

// Readiness bits, with epoll's meanings.
namespace ready {
inline constexpr std::uint32_t kIn = 0x001;      // data (or EOF, or a connection to accept)
inline constexpr std::uint32_t kOut = 0x004;     // room to write; a connect() completed
inline constexpr std::uint32_t kErr = 0x008;     // SO_ERROR is set
inline constexpr std::uint32_t kHup = 0x010;     // both directions are finished
inline constexpr std::uint32_t kRdHup = 0x2000;  // the peer closed its sending side
}  // namespace ready

struct SocketEvent {
    int fd;
    std::uint32_t events;
};

class Sockets final : private ListenHandler, private ConnectionHandler {
  public:
    // `max_sockets` descriptors over one worker's connections; a program makes one per worker
    // (in Application::on_worker_start) and drives it from that worker: wait() from a timer
    // re-armed with after(0) runs once every loop turn.
    Sockets(WorkerContext& worker, std::size_t max_sockets);
    // The same over a TcpStack the engine's own code holds.
    Sockets(tcp::TcpStack& stack, std::size_t max_sockets);
    ~Sockets() override;
    Sockets(const Sockets&) = delete;
    Sockets& operator=(const Sockets&) = delete;

    int socket();                                                // a TCP socket, or -EMFILE
    int bind(int fd, wire::Ipv4Address ip, std::uint16_t port);  // port 0: chosen at listen/connect
    int listen(int fd, int backlog);
    // A connected socket from the listener's queue, or -EAGAIN. `peer` receives the remote end.
    int accept(int fd, flow::FourTuple* tuple = nullptr);
    // Starts an active open: -EINPROGRESS; completion shows as kOut (success) or kErr (SO_ERROR).
    int connect(int fd, wire::Ipv4Address ip, std::uint16_t port);
    // Bytes read; 0 at end of stream; -EAGAIN when nothing waits.
    long read(int fd, std::span<std::byte> out);
    // Bytes taken; -EAGAIN when the send buffer is full; -EPIPE after shutdown or reset.
    long write(int fd, std::span<const std::byte> data);
    int shutdown_write(int fd);
    int close(int fd);
    // SO_ERROR: the pending error (0 if none), cleared by reading it.
    int take_error(int fd);
    int set_nodelay(int fd, bool on);

    // Interest in kIn/kOut for `fd` (kErr and kHup are always reported); 0 stops watching.
    int watch(int fd, std::uint32_t events);
    // Level-triggered: every watched descriptor that is ready now, up to out.size(). Never blocks.
    std::size_t wait(std::span<SocketEvent> out);

    std::size_t open_sockets() const { return open_; }

  private:
    enum class Kind : std::uint8_t { Free, Fresh, Listening, Connection };
    struct Socket {
        Kind kind = Kind::Free;
        std::uint16_t local_port = 0;
        std::uint32_t interest = 0;
        int error = 0;
        bool eof = false;   // the peer's FIN was seen
        bool gone = false;  // the connection ended (reset, timeout, closed)
        bool connected = false;
        bool queued = false;  // on the ready list
        Connection conn;
        int listener = -1;  // while waiting in a listener's backlog: that listener
        // Listening sockets: descriptors accepted by the stack and not yet taken by accept(), in a
        // ring sized by listen()'s backlog.
        std::vector<int> backlog;
        std::size_t backlog_head = 0;
        std::size_t backlog_count = 0;
    };

    Socket* get(int fd);
    std::uint32_t readiness(const Socket& s) const;
    void mark(int fd);
    int fd_of(const Connection& c) const;
    int allocate(Kind kind);
    void free_socket(int fd);

    // ListenHandler / ConnectionHandler
    ConnectionHandler* on_accept(Connection c) override;
    void on_connected(Connection c) override;
    void on_readable(Connection c) override;
    void on_writable(Connection c) override;
    void on_peer_closed(Connection c) override;
    void on_closed(Connection c, CloseReason reason) override;

    tcp::TcpStack& stack_;
    std::vector<Socket> sockets_;
    std::vector<int> by_slot_;  // connection slot -> fd, -1 when none
    std::vector<int> ready_;    // descriptors that may be ready
    std::size_t open_ = 0;
};

}  // namespace sluice::api
