// sluice-http-load: an HTTP/1.1 load generator on Sluice, in the spirit of wrk.
//
//   sluice-http-load [EAL options] -- --addr IP/PREFIX [--workers N] [engine options]
//                    -- HOST:PORT [--connections N] [--duration SECONDS] [--path PATH]
//
// Each worker keeps its share of the connections busy: a GET, its whole response (sized by
// Content-Length), the next GET on the same connection; a connection the server closes is opened
// again. When the duration is up, worker 0 stops the engine, and the program prints requests per
// second and the latency distribution of every request answered, per worker summed.
#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sluice/sluice.hpp>

namespace {

using namespace std::chrono_literals;

struct Settings {
    sluice::Ipv4Address ip;
    std::uint16_t port = 0;
    std::uint32_t connections = 16;
    std::uint32_t duration_s = 5;
    std::string path = "/";
};

// Latencies in microseconds, 32 buckets per power of two (3 % resolution), as HdrHistogram
// keeps them; no allocation per sample.
class Histogram {
  public:
    static constexpr std::size_t kBuckets = 64 * 32;
    void record(std::uint64_t us) {
        ++counts_[index(us)];
        ++total_;
        max_ = std::max(max_, us);
    }
    void add(const Histogram& o) {
        for (std::size_t i = 0; i < kBuckets; ++i)
            counts_[i] += o.counts_[i];
        total_ += o.total_;
        max_ = std::max(max_, o.max_);
    }
    std::uint64_t total() const { return total_; }
    std::uint64_t max() const { return max_; }
    // The smallest value that `fraction` of the samples do not exceed, to the bucket.
    std::uint64_t percentile(double fraction) const {
        const auto wanted = static_cast<std::uint64_t>(fraction * static_cast<double>(total_));
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < kBuckets; ++i) {
            seen += counts_[i];
            if (seen > 0 && seen >= wanted)
                return std::min(upper(i), max_);
        }
        return max_;
    }

  private:
    static std::size_t index(std::uint64_t v) {
        if (v < 32)
            return v;
        const int msb = std::bit_width(v) - 1;
        return static_cast<std::size_t>(msb - 4) * 32 + ((v >> (msb - 5)) & 31);
    }
    static std::uint64_t upper(std::size_t i) {
        if (i < 32)
            return i;
        const std::size_t msb = i / 32 + 4;
        return ((32 + i % 32 + 1) << (msb - 5)) - 1;
    }
    std::array<std::uint64_t, kBuckets> counts_{};
    std::uint64_t total_ = 0;
    std::uint64_t max_ = 0;
};

struct Results {
    Histogram latency;
    std::uint64_t requests = 0;
    std::uint64_t errors = 0;  // a response other than 2xx, a malformed one, or a reset
    std::uint64_t reconnects = 0;
    std::uint64_t body_bytes = 0;
};

// One connection's progress through its current request.
struct Exchange {
    sluice::Nanos sent_at{0};
    std::string head;  // the response's header, until its blank line
    std::uint64_t body_left = 0;
    bool in_body = false;
    bool server_closes = false;
};

constexpr unsigned kMaxWorkers = 128;

class LoadWorker final : public sluice::ConnectionHandler {
  public:
    LoadWorker(sluice::WorkerContext& w, const Settings& s, Results& results)
        : worker_(w), settings_(s), results_(results) {
        request_ = "GET " + s.path + " HTTP/1.1\r\nHost: " + s.ip.to_string() + ":" +
                   std::to_string(s.port) + "\r\nUser-Agent: sluice-http-load\r\n\r\n";
    }

    void open(std::uint32_t count) {
        for (std::uint32_t i = 0; i < count; ++i)
            open_one();
    }

    void on_connected(sluice::Connection c) override {
        c.set_user_data(new Exchange{});
        (void)c.set_nodelay(true);
        send_request(c);
    }

    void on_readable(sluice::Connection c) override {
        auto* x = static_cast<Exchange*>(c.user_data());
        std::array<std::byte, 16384> buffer;
        for (std::size_t n; (n = c.read(buffer)) > 0;) {
            std::string_view data(reinterpret_cast<const char*>(buffer.data()), n);
            while (!data.empty()) {
                if (!x->in_body) {
                    // The header may arrive split over several reads.
                    const std::size_t before = x->head.size();
                    x->head.append(data);
                    const std::size_t end = x->head.find("\r\n\r\n");
                    if (end == std::string::npos) {
                        data = {};
                        if (x->head.size() > 65536)
                            return fail(c);
                        break;
                    }
                    data.remove_prefix(end + 4 - before);
                    x->head.resize(end + 2);
                    if (!parse_head(*x))
                        return fail(c);
                    x->in_body = true;
                }
                const std::size_t take = std::min<std::uint64_t>(x->body_left, data.size());
                x->body_left -= take;
                results_.body_bytes += take;
                data.remove_prefix(take);
                if (x->body_left == 0) {
                    answered(c, *x);
                    if (!data.empty())
                        return fail(c);  // more than was asked for: not HTTP/1.1 as we speak it
                }
            }
        }
    }

    void on_peer_closed(sluice::Connection c) override { (void)c.close(); }

    void on_closed(sluice::Connection c, sluice::CloseReason reason) override {
        auto* x = static_cast<Exchange*>(c.user_data());
        const bool mid_request =
            x == nullptr || x->in_body || !x->head.empty() || x->sent_at != sluice::Nanos{0};
        if (reason != sluice::CloseReason::Closed || (mid_request && !x->server_closes))
            ++results_.errors;
        delete x;
        if (!stopping_) {
            ++results_.reconnects;
            open_one();
        }
    }

    void stop() { stopping_ = true; }

  private:
    void open_one() {
        if (!worker_.connect(settings_.ip, settings_.port, this))
            ++results_.errors;
    }

    void send_request(sluice::Connection c) {
        auto* x = static_cast<Exchange*>(c.user_data());
        *x = Exchange{};
        x->sent_at = worker_.now();
        // A request is small and the send buffer empty between requests: it all goes.
        const auto sent = c.send(std::as_bytes(std::span(request_)));
        if (!sent || *sent != request_.size())
            fail(c);
    }

    bool parse_head(Exchange& x) {
        // "HTTP/1.1 200 OK\r\n", then headers; only Content-Length bodies are understood.
        if (x.head.rfind("HTTP/1.", 0) != 0 || x.head.size() < 12)
            return false;
        const bool ok = x.head[9] == '2';
        std::optional<std::uint64_t> length;
        std::size_t at = x.head.find("\r\n") + 2;
        while (at < x.head.size()) {
            const std::size_t eol = x.head.find("\r\n", at);
            std::string line = x.head.substr(at, eol - at);
            at = eol + 2;
            std::transform(line.begin(), line.end(), line.begin(),
                           [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
            if (line.rfind("content-length:", 0) == 0) {
                std::string_view v(line);
                v.remove_prefix(15);
                while (!v.empty() && v.front() == ' ')
                    v.remove_prefix(1);
                std::uint64_t n = 0;
                if (std::from_chars(v.data(), v.data() + v.size(), n).ec != std::errc{})
                    return false;
                length = n;
            } else if (line == "connection: close") {
                x.server_closes = true;
            }
        }
        if (!length)
            return false;
        x.body_left = *length;
        if (!ok)
            ++results_.errors;
        return true;
    }

    void answered(sluice::Connection c, Exchange& x) {
        const auto us =
            std::chrono::duration_cast<std::chrono::microseconds>(worker_.now() - x.sent_at);
        results_.latency.record(static_cast<std::uint64_t>(std::max<std::int64_t>(us.count(), 0)));
        ++results_.requests;
        if (stopping_)
            return;
        if (x.server_closes) {
            x = Exchange{};
            x.server_closes = true;  // the server's FIN comes; on_closed opens the next one
            return;
        }
        send_request(c);
    }

    void fail(sluice::Connection c) {
        ++results_.errors;
        if (auto* x = static_cast<Exchange*>(c.user_data()))
            x->server_closes = true;  // counted here, not again in on_closed
        c.abort();
    }

    sluice::WorkerContext& worker_;
    const Settings& settings_;
    Results& results_;
    std::string request_;
    bool stopping_ = false;
};

std::array<Results, kMaxWorkers> g_results;
std::array<std::unique_ptr<LoadWorker>, kMaxWorkers> g_workers;
sluice::Nanos g_started{0};
sluice::Nanos g_stopped{0};

std::optional<std::string> parse_settings(const std::vector<std::string>& args, Settings& s) {
    if (args.empty())
        return "expected HOST:PORT after the second '--'";
    const auto target = sluice::Ipv4Endpoint::parse(args[0]);
    if (!target)
        return "'" + args[0] + "': expected HOST:PORT with an IPv4 address, e.g. 10.0.0.1:80";
    s.ip = target->address;
    s.port = target->port;
    for (std::size_t i = 1; i < args.size(); i += 2) {
        const std::string& flag = args[i];
        if (i + 1 >= args.size())
            return flag + " needs a value";
        const std::string& value = args[i + 1];
        std::uint32_t n = 0;
        const bool numeric =
            std::from_chars(value.data(), value.data() + value.size(), n).ec == std::errc{};
        if (flag == "--connections") {
            if (!numeric || n < 1 || n > 100000)
                return "--connections '" + value + "': expected 1 to 100000";
            s.connections = n;
        } else if (flag == "--duration") {
            if (!numeric || n < 1 || n > 86400)
                return "--duration '" + value + "': expected 1 to 86400 seconds";
            s.duration_s = n;
        } else if (flag == "--path") {
            if (value.empty() || value[0] != '/' || value.find_first_of(" \r\n") != value.npos)
                return "--path '" + value + "': expected an absolute path without spaces";
            s.path = value;
        } else {
            return "unknown option '" + flag + "' (--connections, --duration, --path)";
        }
    }
    return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
    static Settings settings;
    if (auto bad = parse_settings(sluice::Application::program_arguments(argc, argv), settings)) {
        std::fprintf(stderr,
                     "sluice-http-load: %s\nusage: sluice-http-load [EAL options] -- --addr "
                     "IP/PREFIX [engine options] -- HOST:PORT [--connections N] "
                     "[--duration SECONDS] [--path PATH]\n",
                     bad->c_str());
        return 2;
    }
    sluice::Application app("sluice-http-load");
    app.on_worker_start([](sluice::WorkerContext& w) {
        // The connections, shared out: the first workers take one more when they do not divide.
        const std::uint32_t share =
            settings.connections / w.count() + (w.id() < settings.connections % w.count() ? 1 : 0);
        g_workers[w.id()] = std::make_unique<LoadWorker>(w, settings, g_results[w.id()]);
        g_workers[w.id()]->open(share);
        if (w.id() != 0)
            return;
        g_started = w.now();
        const auto timer =
            w.after(std::chrono::seconds(settings.duration_s), [](sluice::WorkerContext& first) {
                g_stopped = first.now();
                first.stop(0);
            });
        if (!timer)
            w.stop(1);
    });
    const int status = app.run(argc, argv);
    if (status != 0 || g_stopped == sluice::Nanos{0})
        return status == 0 ? 1 : status;

    Results total;
    for (const Results& r : g_results) {
        total.latency.add(r.latency);
        total.requests += r.requests;
        total.errors += r.errors;
        total.reconnects += r.reconnects;
        total.body_bytes += r.body_bytes;
    }
    const double seconds = std::chrono::duration<double>(g_stopped - g_started).count();
    std::printf("sluice-http-load: %u connections, %.2f s\n", settings.connections, seconds);
    std::printf("  requests %llu\n  errors %llu\n  reconnects %llu\n  requests_per_second %.0f\n",
                static_cast<unsigned long long>(total.requests),
                static_cast<unsigned long long>(total.errors),
                static_cast<unsigned long long>(total.reconnects),
                static_cast<double>(total.requests) / seconds);
    std::printf("  body_bytes %llu\n", static_cast<unsigned long long>(total.body_bytes));
    for (const auto& [name, fraction] :
         {std::pair{"p50", 0.50}, std::pair{"p90", 0.90}, std::pair{"p99", 0.99}}) {
        std::printf("  latency_%s_us %llu\n", name,
                    static_cast<unsigned long long>(total.latency.percentile(fraction)));
    }
    std::printf("  latency_max_us %llu\n", static_cast<unsigned long long>(total.latency.max()));
    return total.errors == 0 ? 0 : 1;
}
