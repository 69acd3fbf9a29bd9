#include "bench/perf/linux_load.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/perf/client_report.hpp"
#include "bench/perf/histogram.hpp"
#include "bench/perf/load_meter.hpp"
#include "bench/perf/protocol.hpp"
#include "dataplane/services/pattern.hpp"

namespace sluice::perf {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxEvents = 256;
constexpr std::size_t kReadBufferBytes = 256 * 1024;
// How long epoll_wait may sleep when nothing happens: short enough for the meter's deadlines.
constexpr int kIdleWaitMs = 2;

// The pattern bytes every request and every stream write are cut from (any bytes would do; these
// are what Sluice's services send too).
std::vector<char> pattern_bytes(std::size_t n) {
    std::vector<char> bytes(n);
    for (std::size_t i = 0; i < n; ++i)
        bytes[i] = services::kPatternAlphabet[i % services::kPatternAlphabet.size()];
    return bytes;
}

void set_nodelay(int fd) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool make_address(const std::string& ip, std::uint16_t port, sockaddr_in& out) {
    out = sockaddr_in{};
    out.sin_family = AF_INET;
    out.sin_port = htons(port);
    return inet_pton(AF_INET, ip.c_str(), &out.sin_addr) == 1;
}

class Epoll {
  public:
    Epoll() : fd_(epoll_create1(EPOLL_CLOEXEC)) {}
    ~Epoll() {
        if (fd_ >= 0)
            close(fd_);
    }
    Epoll(const Epoll&) = delete;
    Epoll& operator=(const Epoll&) = delete;

    bool ok() const { return fd_ >= 0; }
    void add(int fd, std::uint32_t events) { control(EPOLL_CTL_ADD, fd, events); }
    void modify(int fd, std::uint32_t events) { control(EPOLL_CTL_MOD, fd, events); }
    void remove(int fd) { epoll_ctl(fd_, EPOLL_CTL_DEL, fd, nullptr); }
    int wait(epoll_event* events, int max, int timeout_ms) {
        return epoll_wait(fd_, events, max, timeout_ms);
    }

  private:
    void control(int op, int fd, std::uint32_t events) {
        epoll_event e{};
        e.events = events;
        e.data.fd = fd;
        epoll_ctl(fd_, op, fd, &e);
    }
    int fd_;
};

// ---------------------------------------------------------------------------------------------
// Server: echo (rr, latency), echo-then-close (crr), source (stream).

class LinuxServer {
  public:
    explicit LinuxServer(const PerfOptions& o)
        : options_(o), buffer_(kReadBufferBytes), stream_bytes_(pattern_bytes(o.load.write_size)) {}

    Status<std::string> listen() {
        if (!epoll_.ok())
            return Unexpected{std::string("epoll_create1: ") + std::strerror(errno)};
        sockaddr_in address{};
        if (!make_address(options_.listen_address, options_.listen_port, address))
            return Unexpected{"--listen: '" + options_.listen_address + "' is not an IPv4 address"};
        listener_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        const int one = 1;
        setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::listen(listener_, 4096) != 0) {
            return Unexpected{"cannot listen on " + options_.listen_address + ":" +
                              std::to_string(options_.listen_port) + ": " + std::strerror(errno)};
        }
        socklen_t length = sizeof address;
        getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
        port_ = ntohs(address.sin_port);
        epoll_.add(listener_, EPOLLIN);
        return {};
    }

    std::uint16_t port() const { return port_; }

    void run(const std::atomic<bool>& stop, Clock::time_point deadline) {
        epoll_event events[kMaxEvents];
        while (!stop.load(std::memory_order_relaxed) && Clock::now() < deadline) {
            const int n = epoll_.wait(events, kMaxEvents, 50);
            for (int i = 0; i < n; ++i) {
                const int fd = events[i].data.fd;
                if (fd == listener_) {
                    accept_all();
                } else {
                    on_event(fd, events[i].events);
                }
            }
        }
    }

    std::uint64_t accepted() const { return accepted_; }

  private:
    struct Peer {
        bool open = false;
        std::vector<char> unsent;  // echo bytes the socket has not taken yet
        std::size_t unsent_offset = 0;
        std::uint64_t echoed = 0;  // crr: bytes of the request answered so far
    };

    Peer& peer(int fd) {
        if (static_cast<std::size_t>(fd) >= peers_.size())
            peers_.resize(static_cast<std::size_t>(fd) + 1);
        return peers_[static_cast<std::size_t>(fd)];
    }

    void accept_all() {
        for (;;) {
            const int fd = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
                return;
            ++accepted_;
            set_nodelay(fd);
            Peer& p = peer(fd);
            p = Peer{};
            p.open = true;
            const bool source = options_.load.workload == Workload::Stream;
            epoll_.add(fd, source ? (EPOLLIN | EPOLLOUT) : EPOLLIN);
        }
    }

    void finish(int fd) {
        epoll_.remove(fd);
        close(fd);
        peer(fd) = Peer{};
    }

    void on_event(int fd, std::uint32_t events) {
        Peer& p = peer(fd);
        if (!p.open)
            return;
        if (options_.load.workload == Workload::Stream) {
            if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0 && !drain_or_closed(fd))
                return;
            if ((events & EPOLLOUT) != 0)
                send_stream(fd);
            return;
        }
        if ((events & EPOLLOUT) != 0 && !flush_unsent(fd, p))
            return;
        if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0 && p.unsent.empty())
            echo(fd, p);
    }

    // Reads what came; false when the peer is gone (the connection is then closed).
    bool drain_or_closed(int fd) {
        const ssize_t n = read(fd, buffer_.data(), buffer_.size());
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            finish(fd);
            return false;
        }
        return true;
    }

    void send_stream(int fd) {
        for (;;) {
            const ssize_t n = write(fd, stream_bytes_.data(), stream_bytes_.size());
            if (n < static_cast<ssize_t>(stream_bytes_.size())) {
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                    finish(fd);
                return;
            }
        }
    }

    void echo(int fd, Peer& p) {
        const ssize_t n = read(fd, buffer_.data(), buffer_.size());
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            finish(fd);
            return;
        }
        if (n < 0)
            return;
        const ssize_t written = write(fd, buffer_.data(), static_cast<std::size_t>(n));
        if (written < 0 && errno != EAGAIN && errno != EINTR) {
            finish(fd);
            return;
        }
        const auto taken = static_cast<std::size_t>(written < 0 ? 0 : written);
        p.echoed += taken;
        if (taken < static_cast<std::size_t>(n)) {
            // Backpressure: keep the rest, stop reading until the socket takes it.
            p.unsent.assign(buffer_.begin() + static_cast<std::ptrdiff_t>(taken),
                            buffer_.begin() + n);
            p.unsent_offset = 0;
            epoll_.modify(fd, EPOLLOUT);
            return;
        }
        close_if_answered(fd, p);
    }

    // False when the connection was closed.
    bool flush_unsent(int fd, Peer& p) {
        while (p.unsent_offset < p.unsent.size()) {
            const ssize_t n =
                write(fd, p.unsent.data() + p.unsent_offset, p.unsent.size() - p.unsent_offset);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    return true;
                finish(fd);
                return false;
            }
            p.unsent_offset += static_cast<std::size_t>(n);
            p.echoed += static_cast<std::size_t>(n);
        }
        p.unsent.clear();
        p.unsent_offset = 0;
        epoll_.modify(fd, EPOLLIN);
        return !close_if_answered(fd, p);
    }

    // crr: the server closes first once the whole response is out (so TIME-WAIT lands here, not
    // on the client's ephemeral ports). True when it closed.
    bool close_if_answered(int fd, Peer& p) {
        if (options_.load.workload != Workload::Crr || p.echoed < options_.load.size)
            return false;
        finish(fd);
        return true;
    }

    const PerfOptions& options_;
    Epoll epoll_;
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::vector<Peer> peers_;
    std::vector<char> buffer_;
    std::vector<char> stream_bytes_;
    std::uint64_t accepted_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Client: rr / latency (requests on open connections), crr (a fresh connection per transaction),
// stream (reads and counts).

class LinuxClient {
  public:
    explicit LinuxClient(const PerfOptions& o)
        : options_(o),
          params_(o.load),
          meter_(o.load),
          buffer_(kReadBufferBytes),
          request_bytes_(pattern_bytes(std::max<std::size_t>(o.load.size, 65536))) {}

    Status<std::string> start() {
        if (!epoll_.ok())
            return Unexpected{std::string("epoll_create1: ") + std::strerror(errno)};
        if (!make_address(options_.connect_address, options_.connect_port, server_))
            return Unexpected{"--connect: '" + options_.connect_address +
                              "' is not an IPv4 address"};
        for (std::uint32_t i = 0; i < params_.effective_connections(); ++i) {
            if (auto st = open_connection(); !st)
                return st;
        }
        return {};
    }

    // Runs until the window closes; false when the load never started or `stop` came first.
    bool run(const std::atomic<bool>& stop) {
        const Clock::time_point give_up = Clock::now() + std::chrono::seconds(15);
        epoll_event events[kMaxEvents];
        while (!stop.load(std::memory_order_relaxed)) {
            const int n = epoll_.wait(events, kMaxEvents, kIdleWaitMs);
            for (int i = 0; i < n; ++i)
                on_event(events[i].data.fd, events[i].events);
            const Clock::time_point now = Clock::now();
            if (!meter_.begun()) {
                if (now >= give_up) {
                    std::fprintf(stderr,
                                 "sluice-perf: client: no connection to %s:%u in 15 s "
                                 "(%llu failed)\n",
                                 options_.connect_address.c_str(), options_.connect_port,
                                 static_cast<unsigned long long>(errors_));
                    return false;
                }
                continue;
            }
            if (meter_.tick(now, completed_) == LoadMeter::Event::WindowClosed)
                return true;
        }
        return false;
    }

    const LoadMeter& meter() const { return meter_; }
    const LatencyHistogram& latency() const { return latency_; }
    std::uint64_t errors() const { return errors_; }

  private:
    struct Flow {
        bool connecting = false;
        bool connected = false;
        std::uint64_t owed = 0;     // request bytes still to write
        std::uint64_t partial = 0;  // response bytes towards the next whole response
        bool answered = false;      // crr: the whole response is in; waiting for the FIN
        Clock::time_point sent_at{};
    };

    Flow& flow(int fd) {
        if (static_cast<std::size_t>(fd) >= flows_.size())
            flows_.resize(static_cast<std::size_t>(fd) + 1);
        return flows_[static_cast<std::size_t>(fd)];
    }

    Status<std::string> open_connection() {
        const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return Unexpected{std::string("socket: ") + std::strerror(errno)};
        set_nodelay(fd);
        if (connect(fd, reinterpret_cast<const sockaddr*>(&server_), sizeof server_) != 0 &&
            errno != EINPROGRESS) {
            const int e = errno;
            close(fd);
            return Unexpected{"connect to " + options_.connect_address + ":" +
                              std::to_string(options_.connect_port) + ": " + std::strerror(e)};
        }
        Flow& f = flow(fd);
        f = Flow{};
        f.connecting = true;
        epoll_.add(fd, EPOLLOUT);
        return {};
    }

    void finish(int fd, bool failed) {
        epoll_.remove(fd);
        close(fd);
        flow(fd) = Flow{};
        if (failed)
            ++errors_;
        if (params_.workload == Workload::Crr || failed) {
            // crr opens the next connection at once; the others replace a failed one. A failure
            // to even start one is counted and tried again on the next event.
            if (!open_connection())
                ++errors_;
        }
    }

    void on_event(int fd, std::uint32_t events) {
        Flow& f = flow(fd);
        if (f.connecting) {
            // An event for an earlier socket with the same number, in the same batch: not ours.
            if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0)
                return;
            int error = 0;
            socklen_t length = sizeof error;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
            if (error != 0) {
                finish(fd, /*failed=*/true);
                return;
            }
            f.connecting = false;
            f.connected = true;
            if (!meter_.begun())
                meter_.begin(Clock::now());
            if (params_.workload == Workload::Stream) {
                epoll_.modify(fd, EPOLLIN);
                return;
            }
            f.owed = std::uint64_t{params_.effective_pipeline()} * params_.size;
            if (params_.workload == Workload::Latency)
                f.sent_at = Clock::now();
            write_owed(fd, f);
            return;
        }
        if ((events & EPOLLOUT) != 0 && !write_owed(fd, f))
            return;
        if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0)
            read_answers(fd, f);
    }

    // False when the connection failed and was replaced.
    bool write_owed(int fd, Flow& f) {
        while (f.owed > 0) {
            const std::size_t chunk =
                static_cast<std::size_t>(std::min<std::uint64_t>(f.owed, request_bytes_.size()));
            const ssize_t n = write(fd, request_bytes_.data(), chunk);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    epoll_.modify(fd, EPOLLIN | EPOLLOUT);
                    return true;
                }
                finish(fd, /*failed=*/true);
                return false;
            }
            f.owed -= static_cast<std::uint64_t>(n);
        }
        epoll_.modify(fd, EPOLLIN);
        return true;
    }

    void read_answers(int fd, Flow& f) {
        const ssize_t n = read(fd, buffer_.data(), buffer_.size());
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                finish(fd, /*failed=*/true);
            return;
        }
        if (n == 0) {
            // The server closes first only in crr, and only after the whole response.
            const bool complete = params_.workload == Workload::Crr && f.answered;
            if (complete)
                ++completed_;
            finish(fd, /*failed=*/!complete);
            return;
        }
        if (params_.workload == Workload::Stream) {
            completed_ += static_cast<std::uint64_t>(n);
            return;
        }
        f.partial += static_cast<std::uint64_t>(n);
        const std::uint64_t responses = f.partial / params_.size;
        f.partial %= params_.size;
        if (responses == 0)
            return;
        if (params_.workload == Workload::Crr) {
            f.answered = true;  // counted when the server's FIN follows
            return;
        }
        completed_ += responses;
        if (params_.workload == Workload::Latency) {
            const Clock::time_point now = Clock::now();
            if (meter_.measuring())
                latency_.record(static_cast<std::uint64_t>(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(now - f.sent_at).count()));
            f.sent_at = now;
        }
        f.owed += responses * params_.size;
        write_owed(fd, f);
    }

    const PerfOptions& options_;
    LoadParams params_;
    LoadMeter meter_;
    LatencyHistogram latency_;
    Epoll epoll_;
    sockaddr_in server_{};
    std::vector<Flow> flows_;
    std::vector<char> buffer_;
    std::vector<char> request_bytes_;
    std::uint64_t completed_ = 0;
    std::uint64_t errors_ = 0;
};

}  // namespace

bool pin_to_core(unsigned core) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        std::fprintf(stderr, "sluice-perf: cannot pin to core %u: %s\n", core,
                     std::strerror(errno));
        return false;
    }
    return true;
}

int run_linux_server(const PerfOptions& options, const std::atomic<bool>& stop) {
    if (!pin_to_core(options.core))
        return 1;
    LinuxServer server(options);
    if (auto st = server.listen(); !st) {
        std::fprintf(stderr, "sluice-perf: server: %s\n", st.error().c_str());
        return 1;
    }
    MessageWriter("ready").field("port", std::uint64_t{server.port()}).send();
    server.run(stop, server_deadline(options));
    MessageWriter("server").field("accepted", server.accepted()).send();
    return 0;
}

int run_linux_client(const PerfOptions& options, const std::atomic<bool>& stop) {
    if (!pin_to_core(options.core))
        return 1;
    LinuxClient client(options);
    if (auto st = client.start(); !st) {
        std::fprintf(stderr, "sluice-perf: client: %s\n", st.error().c_str());
        return 1;
    }
    if (!client.run(stop))
        return 1;
    client_result(options.load, client.meter(), client.latency(), client.errors()).send();
    return 0;
}

}  // namespace sluice::perf
