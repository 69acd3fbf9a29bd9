// sluice-kv: a key-value server on Sluice, with its keys sharded across the workers.
//
//   sluice-kv [EAL options] -- --addr IP/PREFIX --workers N --serve kv:6380
//
// A line protocol, one request a line, answered in order:
//   SET key value   ->  OK
//   GET key         ->  VALUE value   or  NOT_FOUND
//   DEL key         ->  DELETED       or  NOT_FOUND
//   anything else   ->  ERROR what was wrong
// Keys are 1-250 bytes without spaces; values run to the end of the line (up to 64 KiB).
//
// Each worker owns the keys that hash to it (owner = hash(key) % workers) and is the only one
// that ever touches them. A request that arrives on a connection of another worker is sent to
// the owner as a message; the owner answers with a message back, and the connection's worker
// writes the answer. No lock anywhere: this is the pattern docs/sdk.md describes.
#include <array>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <sluice/sluice.hpp>

namespace {

constexpr std::size_t kMaxKey = 250;
constexpr std::size_t kMaxLine = 64 * 1024 + 512;
constexpr unsigned kMaxWorkers = 128;

// One worker's keys. Only that worker's thread touches it.
using Shard = std::unordered_map<std::string, std::string>;
std::array<Shard, kMaxWorkers> g_shards;
// Requests each worker has out at other workers. The ring from worker A to worker B carries A's
// requests to B and A's answers to B's requests: with at most half its capacity out per worker,
// it always has room for an answer.
std::array<unsigned, kMaxWorkers> g_out{};
unsigned max_out(const sluice::WorkerContext& w) {
    return w.message_capacity() / 2;
}

// A request carried to the owner and back. The connection's worker owns it; the owner reads
// the request and writes the answer while the connection's worker waits for it, and the rings
// the messages travel by order those accesses.
struct Request {
    enum class Op { Get, Set, Del } op = Op::Get;
    std::string key;
    std::string value;
    std::string answer;
};

std::string carry_out(Shard& shard, Request& r) {
    switch (r.op) {
        case Request::Op::Get: {
            const auto it = shard.find(r.key);
            return it == shard.end() ? "NOT_FOUND\n" : "VALUE " + it->second + "\n";
        }
        case Request::Op::Set:
            shard[r.key] = std::move(r.value);
            return "OK\n";
        case Request::Op::Del:
            return shard.erase(r.key) != 0 ? "DELETED\n" : "NOT_FOUND\n";
    }
    return "ERROR\n";
}

class KvService;

// One connection: what it has received and not yet answered, and what it could not send yet.
struct Session {
    KvService* service = nullptr;
    sluice::Connection connection;
    std::string input;
    std::string output;
    Request request;
    bool waiting = false;  // a request is out at another worker
    bool closed = false;   // the connection is gone; free this once nothing is out
};

class KvService final : public sluice::ListenHandler, public sluice::ConnectionHandler {
  public:
    explicit KvService(sluice::WorkerContext& worker) : worker_(worker) {}

    sluice::ConnectionHandler* on_accept(sluice::Connection c) override {
        auto* s = new Session{};
        s->service = this;
        s->connection = c;
        c.set_user_data(s);
        return this;
    }

    void on_readable(sluice::Connection c) override { drain(*session(c)); }
    void on_writable(sluice::Connection c) override { flush(*session(c)); }
    void on_peer_closed(sluice::Connection c) override {
        Session& s = *session(c);
        // Answer what was asked, then close our side too.
        if (!s.waiting && s.output.empty())
            (void)c.close();
    }
    void on_closed(sluice::Connection c, sluice::CloseReason) override {
        Session* s = session(c);
        s->closed = true;
        if (!s->waiting)
            delete s;
    }

    // Back on this worker with the owner's answer.
    void answered(Session* s) {
        s->waiting = false;
        --g_out[worker_.id()];
        if (s->closed) {
            delete s;
            return;
        }
        s->output += s->request.answer;
        flush(*s);
        drain(*s);
    }

  private:
    static Session* session(sluice::Connection c) { return static_cast<Session*>(c.user_data()); }

    // Reads what has arrived and answers every complete line, in order, until a request has to
    // wait for another worker.
    void drain(Session& s) {
        std::array<std::byte, 16384> buffer;
        for (;;) {
            const std::size_t n = s.connection.read(buffer);
            if (n == 0)
                break;
            s.input.append(reinterpret_cast<const char*>(buffer.data()), n);
        }
        while (!s.waiting) {
            const std::size_t eol = s.input.find('\n');
            if (eol == std::string::npos) {
                if (s.input.size() > kMaxLine) {
                    s.output += "ERROR line too long\n";
                    flush(s);
                    (void)s.connection.close();
                }
                break;
            }
            std::string line = s.input.substr(0, eol);
            s.input.erase(0, eol + 1);
            if (!line.empty() && line.back() == '\r')
                line.pop_back();
            handle(s, line);
        }
        flush(s);
        if (!s.waiting && s.output.empty() && s.connection.peer_closed())
            (void)s.connection.close();
    }

    void handle(Session& s, std::string_view line) {
        const std::size_t space = line.find(' ');
        const std::string_view verb = line.substr(0, space);
        const std::string_view rest =
            space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
        Request& r = s.request;
        if (verb == "SET") {
            const std::size_t gap = rest.find(' ');
            if (gap == std::string_view::npos) {
                s.output += "ERROR usage: SET key value\n";
                return;
            }
            r.op = Request::Op::Set;
            r.key = rest.substr(0, gap);
            r.value = rest.substr(gap + 1);
        } else if (verb == "GET" || verb == "DEL") {
            r.op = verb == "GET" ? Request::Op::Get : Request::Op::Del;
            r.key = rest;
        } else {
            s.output += "ERROR unknown command\n";
            return;
        }
        if (r.key.empty() || r.key.size() > kMaxKey || r.key.find(' ') != std::string::npos) {
            s.output += "ERROR keys are 1-250 bytes without spaces\n";
            return;
        }
        const unsigned owner =
            static_cast<unsigned>(std::hash<std::string>{}(r.key) % worker_.count());
        if (owner == worker_.id()) {
            s.output += carry_out(g_shards[owner], r);
            return;
        }
        // To the owner, and back: two messages of a pointer and a worker number each.
        const unsigned home = worker_.id();
        if (g_out[home] >= max_out(worker_)) {
            s.output += "ERROR busy, try again\n";
            return;
        }
        Session* session = &s;
        const auto sent = worker_.send_to(owner, [session, home](sluice::WorkerContext& there) {
            session->request.answer = carry_out(g_shards[there.id()], session->request);
            // Cannot fail: see max_out().
            (void)there.send_to(
                home, [session](sluice::WorkerContext&) { session->service->answered(session); });
        });
        if (!sent) {
            s.output += "ERROR busy, try again\n";
            return;
        }
        ++g_out[home];
        s.waiting = true;
    }

    void flush(Session& s) {
        while (!s.output.empty()) {
            const auto sent = s.connection.send(std::as_bytes(std::span(s.output)));
            if (!sent || *sent == 0)
                return;  // EAGAIN: on_writable comes; anything else: on_closed comes
            s.output.erase(0, *sent);
        }
    }

    sluice::WorkerContext& worker_;
};

}  // namespace

int main(int argc, char** argv) {
    sluice::Application app("sluice-kv");
    if (auto st = app.add_service(
            "kv", "a key-value store: SET key value, GET key, DEL key; keys sharded by worker",
            [](sluice::WorkerContext& w) { return std::make_unique<KvService>(w); });
        !st) {
        std::fprintf(stderr, "sluice-kv: %s\n", st.error().c_str());
        return 1;
    }
    return app.run(argc, argv);
}
