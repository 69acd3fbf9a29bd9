#include <sluice/sockets.hpp>

#include <algorithm>

#include <sluice/application.hpp>

#include "dataplane/tcp/tcp_stack.hpp"

namespace sluice::api {

Sockets::Sockets(WorkerContext& worker, std::size_t max_sockets)
    : Sockets(worker.tcp_stack(), max_sockets) {}

Sockets::Sockets(tcp::TcpStack& stack, std::size_t max_sockets)
    : stack_(stack), sockets_(max_sockets), by_slot_(stack.slot_count(), -1) {
    ready_.reserve(max_sockets);
}

Sockets::~Sockets() {
    for (std::size_t fd = 0; fd < sockets_.size(); ++fd) {
        if (sockets_[fd].kind != Kind::Free)
            close(static_cast<int>(fd));
    }
}

Sockets::Socket* Sockets::get(int fd) {
    if (fd < 0 || static_cast<std::size_t>(fd) >= sockets_.size())
        return nullptr;
    Socket& s = sockets_[static_cast<std::size_t>(fd)];
    return s.kind == Kind::Free ? nullptr : &s;
}

int Sockets::fd_of(const Connection& c) const {
    return c.slot() < by_slot_.size() ? by_slot_[c.slot()] : -1;
}

int Sockets::allocate(Kind kind) {
    for (std::size_t fd = 0; fd < sockets_.size(); ++fd) {
        if (sockets_[fd].kind == Kind::Free) {
            Socket& s = sockets_[fd];
            s = Socket{};
            s.kind = kind;
            ++open_;
            return static_cast<int>(fd);
        }
    }
    return -EMFILE;
}

void Sockets::free_socket(int fd) {
    Socket& s = sockets_[static_cast<std::size_t>(fd)];
    if (s.kind == Kind::Connection && s.conn.slot() < by_slot_.size() &&
        by_slot_[s.conn.slot()] == fd) {
        by_slot_[s.conn.slot()] = -1;
    }
    s.kind = Kind::Free;
    s.backlog.clear();
    --open_;
}

void Sockets::mark(int fd) {
    Socket* s = get(fd);
    if (s == nullptr || s->queued)
        return;
    s->queued = true;
    ready_.push_back(fd);
}

std::uint32_t Sockets::readiness(const Socket& s) const {
    std::uint32_t r = 0;
    switch (s.kind) {
        case Kind::Listening:
            if (s.backlog_count > 0)
                r |= ready::kIn;
            break;
        case Kind::Connection:
            if (s.error != 0)
                r |= ready::kErr;
            if (s.gone)
                r |= ready::kHup | ready::kIn;
            if (s.eof)
                r |= ready::kRdHup | ready::kIn;
            if (s.conn.readable() > 0)
                r |= ready::kIn;
            if (s.connected && !s.gone && s.conn.send_space() > 0)
                r |= ready::kOut;
            break;
        default:
            break;
    }
    return r;
}

int Sockets::socket() {
    return allocate(Kind::Fresh);
}

int Sockets::bind(int fd, wire::Ipv4Address /*ip*/, std::uint16_t port) {
    Socket* s = get(fd);
    if (s == nullptr)
        return -EBADF;
    if (s->kind != Kind::Fresh)
        return -EINVAL;
    // One address per engine: binding names the port only.
    for (const Socket& other : sockets_) {
        if (&other != s && other.kind == Kind::Listening && other.local_port == port && port != 0) {
            return -EADDRINUSE;
        }
    }
    s->local_port = port;
    return 0;
}

int Sockets::listen(int fd, int backlog) {
    Socket* s = get(fd);
    if (s == nullptr)
        return -EBADF;
    if (s->kind != Kind::Fresh || s->local_port == 0)
        return -EINVAL;
    const auto st = stack_.listen(s->local_port, this);
    if (!st)
        return -st.error();
    s->kind = Kind::Listening;
    s->backlog.assign(static_cast<std::size_t>(std::clamp(backlog, 1, 65535)), -1);
    return 0;
}

ConnectionHandler* Sockets::on_accept(Connection c) {
    const auto info = c.info();
    if (!info)
        return nullptr;
    int listener = -1;
    for (std::size_t fd = 0; fd < sockets_.size(); ++fd) {
        if (sockets_[fd].kind == Kind::Listening &&
            sockets_[fd].local_port == info->tuple.local_port) {
            listener = static_cast<int>(fd);
        }
    }
    if (listener < 0)
        return nullptr;
    Socket& l = sockets_[static_cast<std::size_t>(listener)];
    if (l.backlog_count == l.backlog.size())
        return nullptr;  // full: the connection is reset
    const int fd = allocate(Kind::Connection);
    if (fd < 0)
        return nullptr;
    Socket& s = sockets_[static_cast<std::size_t>(fd)];
    s.conn = c;
    s.local_port = info->tuple.local_port;
    s.listener = listener;
    by_slot_[c.slot()] = fd;
    l.backlog[(l.backlog_head + l.backlog_count) % l.backlog.size()] = fd;
    ++l.backlog_count;
    mark(listener);
    return this;
}

int Sockets::accept(int fd, flow::FourTuple* tuple) {
    Socket* l = get(fd);
    if (l == nullptr)
        return -EBADF;
    if (l->kind != Kind::Listening)
        return -EINVAL;
    if (l->backlog_count == 0)
        return -EAGAIN;
    const int child = l->backlog[l->backlog_head];
    l->backlog_head = (l->backlog_head + 1) % l->backlog.size();
    --l->backlog_count;
    Socket& s = sockets_[static_cast<std::size_t>(child)];
    s.listener = -1;
    s.connected = true;
    if (tuple != nullptr) {
        const auto info = s.conn.info();
        if (info)
            *tuple = info->tuple;
    }
    mark(child);
    return child;
}

int Sockets::connect(int fd, wire::Ipv4Address ip, std::uint16_t port) {
    Socket* s = get(fd);
    if (s == nullptr)
        return -EBADF;
    if (s->kind == Kind::Connection)
        return s->connected ? -EISCONN : -EALREADY;
    if (s->kind != Kind::Fresh)
        return -EINVAL;
    auto c = stack_.connect(ip, port, this);
    if (!c)
        return -c.error();
    s->kind = Kind::Connection;
    s->conn = *c;
    by_slot_[c->slot()] = fd;
    return -EINPROGRESS;
}

long Sockets::read(int fd, std::span<std::byte> out) {
    Socket* s = get(fd);
    if (s == nullptr)
        return -EBADF;
    if (s->kind != Kind::Connection)
        return -ENOTCONN;
    const std::size_t n = s->conn.read(out);
    if (n > 0)
        return static_cast<long>(n);
    if (s->error != 0)
        return -std::exchange(s->error, 0);
    if (s->eof || s->gone)
        return 0;
    return -EAGAIN;
}

long Sockets::write(int fd, std::span<const std::byte> data) {
    Socket* s = get(fd);
    if (s == nullptr)
        return -EBADF;
    if (s->kind != Kind::Connection)
        return -ENOTCONN;
    if (s->error != 0)
        return -std::exchange(s->error, 0);
    if (s->gone)
        return -EPIPE;
    if (!s->connected)
        return -EAGAIN;
    auto n = s->conn.send(data);
    if (!n)
        return -n.error();
    return static_cast<long>(*n);
}

int Sockets::shutdown_write(int fd) {
    Socket* s = get(fd);
    if (s == nullptr)
        return -EBADF;
    if (s->kind != Kind::Connection || s->gone)
        return -ENOTCONN;
    const auto st = s->conn.shutdown_write();
    return st ? 0 : -st.error();
}

int Sockets::close(int fd) {
    Socket* s = get(fd);
    if (s == nullptr)
        return -EBADF;
    if (s->kind == Kind::Listening) {
        (void)stack_.unlisten(s->local_port);
        // Connections still waiting to be accepted go with it.
        while (s->backlog_count > 0) {
            const int child = s->backlog[s->backlog_head];
            s->backlog_head = (s->backlog_head + 1) % s->backlog.size();
            --s->backlog_count;
            Socket& c = sockets_[static_cast<std::size_t>(child)];
            if (c.kind == Kind::Connection) {
                c.listener = -1;
                close(child);
            }
        }
    } else if (s->kind == Kind::Connection && !s->gone) {
        // The stack finishes the close on its own; this descriptor is done either way.
        by_slot_[s->conn.slot()] = -1;
        (void)s->conn.close();
    }
    free_socket(fd);
    return 0;
}

int Sockets::take_error(int fd) {
    Socket* s = get(fd);
    if (s == nullptr)
        return -EBADF;
    return std::exchange(s->error, 0);
}

int Sockets::set_nodelay(int fd, bool on) {
    Socket* s = get(fd);
    if (s == nullptr)
        return -EBADF;
    if (s->kind != Kind::Connection)
        return -ENOTCONN;
    const auto st = s->conn.set_nodelay(on);
    return st ? 0 : -st.error();
}

int Sockets::watch(int fd, std::uint32_t events) {
    Socket* s = get(fd);
    if (s == nullptr)
        return -EBADF;
    s->interest = events;
    mark(fd);
    return 0;
}

std::size_t Sockets::wait(std::span<SocketEvent> out) {
    std::size_t n = 0;
    std::size_t keep = 0;
    for (std::size_t i = 0; i < ready_.size(); ++i) {
        const int fd = ready_[i];
        Socket* s = get(fd);
        if (s == nullptr)
            continue;
        const std::uint32_t r = readiness(*s) & (s->interest | ready::kErr | ready::kHup);
        // A descriptor not yet accepted is not the application's to see.
        if (r == 0 || s->interest == 0 || s->listener >= 0) {
            s->queued = false;
            continue;
        }
        if (n < out.size())
            out[n++] = SocketEvent{fd, r};
        ready_[keep++] = fd;  // level-triggered: it stays until it is no longer ready
    }
    ready_.resize(keep);
    return n;
}

void Sockets::on_connected(Connection c) {
    const int fd = fd_of(c);
    if (Socket* s = get(fd)) {
        if (s->listener < 0)
            s->connected = true;
        mark(fd);
    }
}

void Sockets::on_readable(Connection c) {
    mark(fd_of(c));
}
void Sockets::on_writable(Connection c) {
    mark(fd_of(c));
}

void Sockets::on_peer_closed(Connection c) {
    const int fd = fd_of(c);
    if (Socket* s = get(fd)) {
        s->eof = true;
        mark(fd);
    }
}

void Sockets::on_closed(Connection c, CloseReason reason) {
    const int fd = fd_of(c);
    if (c.slot() < by_slot_.size())
        by_slot_[c.slot()] = -1;
    Socket* s = get(fd);
    if (s == nullptr)
        return;
    if (s->listener >= 0) {
        // Never accepted: take it out of its listener's backlog and forget it.
        Socket& l = sockets_[static_cast<std::size_t>(s->listener)];
        std::size_t kept = 0;
        for (std::size_t i = 0; i < l.backlog_count; ++i) {
            const int child = l.backlog[(l.backlog_head + i) % l.backlog.size()];
            if (child != fd)
                l.backlog[(l.backlog_head + kept++) % l.backlog.size()] = child;
        }
        l.backlog_count = kept;
        free_socket(fd);
        return;
    }
    s->gone = true;
    s->error = close_reason_errno(reason);
    if (!s->connected && reason == CloseReason::Closed)
        s->error = ECONNREFUSED;
    mark(fd);
}

}  // namespace sluice::api
