// sluice-proxy: a TCP proxy on Sluice that moves data without copying it.
//
//   sluice-proxy [EAL options] -- --addr IP/PREFIX --serve proxy:PORT [engine options]
//                -- UPSTREAM_IP:PORT
//
// Each accepted connection gets its own connection to the upstream, opened from inside
// on_accept on the same worker. What arrives on one side is handed to the other as the very
// packet buffers it arrived in (Connection::receive, then send_mbuf): no byte is copied. When
// the other side's send buffer is full, the buffer waits and this side stops reading, so the
// receive window closes towards the sender: back-pressure end to end. A FIN is passed on as a
// FIN once everything before it has been handed over, so half-closes work both ways.
#include <cstdio>
#include <memory>
#include <string>

#include <rte_mbuf.h>

#include <sluice/sluice.hpp>

namespace {

sluice::Ipv4Endpoint g_upstream;

struct Pair;

// One direction's source: the connection data comes from, and where it goes.
struct Side {
    Pair* pair = nullptr;
    sluice::Connection self;
    Side* other = nullptr;
    rte_mbuf* waiting = nullptr;  // received here, not yet taken by the other side
    bool connected = false;
    bool fin_received = false;  // the peer on this side closed its sending direction
    bool fin_passed = false;    // ... and the other side has been told (shutdown_write)
    bool closed = false;        // on_closed has come
};

struct Pair {
    Side client;
    Side upstream;
    int open_sides = 2;
};

class Proxy final : public sluice::ListenHandler, public sluice::ConnectionHandler {
  public:
    explicit Proxy(sluice::WorkerContext& w) : worker_(w) {}

    sluice::ConnectionHandler* on_accept(sluice::Connection c) override {
        auto* pair = new Pair{};
        pair->client = Side{pair, c, &pair->upstream};
        pair->upstream.pair = pair;
        pair->upstream.other = &pair->client;
        pair->client.connected = true;
        auto up = worker_.connect(g_upstream.address, g_upstream.port, this);
        if (!up) {
            delete pair;
            return nullptr;  // refused: the client gets a RST
        }
        pair->upstream.self = *up;
        c.set_user_data(&pair->client);
        up->set_user_data(&pair->upstream);
        return this;
    }

    void on_connected(sluice::Connection c) override {
        Side& s = side(c);
        s.connected = true;
        // The client may have sent already; it waited in its receive queue.
        relay(*s.other);
    }
    void on_readable(sluice::Connection c) override { relay(side(c)); }
    // Room again: what waited for it goes first, then more from the source.
    void on_writable(sluice::Connection c) override { relay(*side(c).other); }
    void on_peer_closed(sluice::Connection c) override {
        Side& s = side(c);
        s.fin_received = true;
        relay(s);
    }
    void on_closed(sluice::Connection c, sluice::CloseReason reason) override {
        Side& s = side(c);
        s.closed = true;
        if (s.waiting != nullptr) {
            rte_pktmbuf_free(s.waiting);
            s.waiting = nullptr;
        }
        Side& other = *s.other;
        if (reason != sluice::CloseReason::Closed && !other.closed) {
            other.self.abort();  // a reset, a timeout, an upstream that refused: end both
        } else if (!other.closed && other.fin_passed && other.fin_received) {
            (void)other.self.close();
        }
        if (--s.pair->open_sides == 0)
            delete s.pair;
    }

  private:
    static Side& side(sluice::Connection c) { return *static_cast<Side*>(c.user_data()); }

    // Moves what `from` has received to the other side, as far as the other side takes it.
    void relay(Side& from) {
        Side& to = *from.other;
        if (!to.connected || to.closed)
            return;
        for (;;) {
            if (from.waiting == nullptr)
                from.waiting = from.self.receive();
            if (from.waiting == nullptr)
                break;
            const auto sent = to.self.send_mbuf(from.waiting);
            if (!sent) {
                if (sent.error() == EAGAIN)
                    return;  // the other side's on_writable calls again
                rte_pktmbuf_free(from.waiting);
                from.waiting = nullptr;
                from.self.abort();
                return;
            }
            from.waiting = nullptr;  // the other side's stack owns it now
        }
        if (from.fin_received && !from.fin_passed) {
            from.fin_passed = true;
            (void)to.self.shutdown_write();
            // Both directions done: this side has nothing more to hear or say.
            if (to.fin_passed)
                (void)from.self.close(), (void)to.self.close();
        }
    }

    sluice::WorkerContext& worker_;
};

}  // namespace

int main(int argc, char** argv) {
    const auto args = sluice::Application::program_arguments(argc, argv);
    const auto upstream = args.size() == 1 ? sluice::Ipv4Endpoint::parse(args[0]) : std::nullopt;
    if (!upstream) {
        std::fprintf(stderr,
                     "sluice-proxy: expected one UPSTREAM_IP:PORT after the second '--', e.g. "
                     "10.0.0.1:80\nusage: sluice-proxy [EAL options] -- --addr IP/PREFIX --serve "
                     "proxy:PORT [engine options] -- UPSTREAM_IP:PORT\n");
        return 2;
    }
    g_upstream = *upstream;
    sluice::Application app("sluice-proxy");
    if (auto st = app.add_service(
            "proxy", "relays each connection to the upstream given after the second '--'",
            [](sluice::WorkerContext& w) { return std::make_unique<Proxy>(w); });
        !st) {
        std::fprintf(stderr, "sluice-proxy: %s\n", st.error().c_str());
        return 1;
    }
    return app.run(argc, argv);
}
