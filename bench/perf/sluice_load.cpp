#include "bench/perf/sluice_load.hpp"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/perf/client_report.hpp"
#include "bench/perf/load_meter.hpp"
#include "bench/perf/protocol.hpp"
#include "bench/perf/sluice_handlers.hpp"
#include "dataplane/services/simple_services.hpp"
#include "dataplane/timers/clock.hpp"
#include "dataplane/worker.hpp"
#include "drivers/eal.hpp"
#include "drivers/port.hpp"

namespace sluice::perf {

namespace {

using Clock = std::chrono::steady_clock;

// Frames of up to 1500 bytes fit DPDK's default buffer; jumbo frames get buffers of their own
// size, because the worker hands a multi-segment frame to no one (drop: segmented_frame).
std::uint16_t buffer_data_room(std::uint16_t mtu) {
    const unsigned frame = mtu + 18u;  // Ethernet header and one VLAN tag
    const unsigned payload = frame <= 2048 ? 2048 : (frame + 1023) / 1024 * 1024;
    return static_cast<std::uint16_t>(RTE_PKTMBUF_HEADROOM + payload);
}

// One end: EAL, the packet pool, the memif port and one worker, torn down in reverse order.
class SluiceEnd {
  public:
    static Result<std::unique_ptr<SluiceEnd>, std::string> create(const PerfOptions& o,
                                                                  bool server);
    ~SluiceEnd() {
        worker_.reset();
        port_.reset();
        if (pool_ != nullptr)
            rte_mempool_free(pool_);
        eal_.reset();
    }

    Worker& worker() { return *worker_; }
    drivers::Port& port() { return *port_; }
    rte_mempool* pool() { return pool_; }

  private:
    SluiceEnd() = default;

    std::vector<std::string> eal_args_;  // rte_eal_init keeps pointers into these
    std::unique_ptr<drivers::Eal> eal_;
    rte_mempool* pool_ = nullptr;
    std::unique_ptr<drivers::Port> port_;
    // Made once EAL is up: TscClock reads the TSC's rate from EAL, which is 0 before rte_eal_init
    // (and would leave the clock standing still: no timer would ever fire).
    std::optional<TscClock> clock_;
    std::unique_ptr<Worker> worker_;
};

Result<std::unique_ptr<SluiceEnd>, std::string> SluiceEnd::create(const PerfOptions& o,
                                                                  bool server) {
    std::unique_ptr<SluiceEnd> end(new SluiceEnd());
    const std::uint16_t mtu = o.load.mtu;
    // Both ends use the same memif buffer size: one buffer per frame. Rings of 256 (rsize=8)
    // rather than memif's 1024: the frames in flight then stay within the cores' caches (256 x
    // 2 KiB per direction against 1 MiB of L2 a core here), where 1024 made every copy into and
    // out of the shared buffers miss: stream at MTU 1500 swung between 12 and 48 Gbit/s from run
    // to run, and measures 25-31 with 256 (40-43 at MTU 9000). 128 was too few while a full tx
    // ring dropped frames (each burst over the ring's size cost TCP a loss: 3-7 Gbit/s); since
    // the worker's tx backlog holds them (tx_batch.hpp), 128 and 64 slots measure the same as
    // 256 (64-69 Gbit/s alternated, three rounds), and 256 stays.
    //
    // The client (the receiving end of stream) runs memif in zero-copy mode: the server copies
    // each frame straight into the client's own mbufs, and the client's receive copies nothing.
    // Zero-copy needs EAL's memory in one file (--single-file-segments), which it hands to the
    // server as a memif region.
    const unsigned memif_buffer = buffer_data_room(mtu) - RTE_PKTMBUF_HEADROOM;
    const std::string vdev = std::string("net_memif0,id=0,role=") +
                             (server ? "server" : "client,zero-copy=yes") +
                             ",socket=" + o.memif_socket +
                             ",socket-abstract=no,rsize=8,bsize=" + std::to_string(memif_buffer) +
                             ",mac=02:00:00:00:00:0" + (server ? "1" : "2");
    end->eal_args_ = {"sluice-perf",
                      "-l",
                      std::to_string(o.core),
                      "--no-huge",
                      "--single-file-segments",
                      "-m",
                      std::to_string(o.eal_memory_mb),
                      "--no-pci",
                      "--no-telemetry",
                      "--file-prefix",
                      o.eal_prefix,
                      "--vdev",
                      vdev};
    std::vector<char*> argv;
    for (std::string& a : end->eal_args_)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    int consumed = 0;
    auto eal = drivers::Eal::init(static_cast<int>(argv.size() - 1), argv.data(), consumed);
    if (!eal)
        return Unexpected{eal.error()};
    end->eal_ = std::move(eal.value());
    end->clock_.emplace();

    // Enough for every connection's send and receive buffers in the heaviest workload (stream:
    // 256 KiB each way per connection) with room to spare; jumbo buffers are fewer.
    const unsigned buffers = mtu <= 1500 ? 16383 : 8191;
    end->pool_ = rte_pktmbuf_pool_create("perf_mbufs", buffers, 256, 0, buffer_data_room(mtu),
                                         rte_socket_id());
    if (end->pool_ == nullptr) {
        return Unexpected{"cannot create a pool of " + std::to_string(buffers) +
                          " buffers: " + rte_strerror(rte_errno) + " (raise --memory)"};
    }

    drivers::PortConfig port_config;
    port_config.device = "net_memif0";
    // memif in DPDK 22.11 reports a 1518-byte frame limit to ethdev, yet carries any frame that
    // fits its buffer (bsize above). Larger MTUs are therefore set in Sluice only.
    if (mtu <= 1500)
        port_config.mtu = mtu;
    auto port = drivers::Port::open(port_config, end->pool_);
    if (!port)
        return Unexpected{port.error()};
    end->port_ = std::move(port.value());

    WorkerConfig wc;
    wc.port_id = end->port_->id();
    wc.interface.mac = end->port_->mac();
    wc.interface.address = *wire::Ipv4Interface::parse(
        std::string(server ? kSluiceServerAddress : kSluiceClientAddress) + "/24");
    const drivers::OffloadPlan& offloads = end->port_->offloads();
    wc.offloads.rx_ipv4 = offloads.rx_ipv4_checksum();
    wc.offloads.tx_ipv4 = offloads.tx_ipv4_checksum();
    wc.offloads.rx_tcp = offloads.rx_tcp_checksum();
    wc.offloads.tx_tcp = offloads.tx_tcp_checksum();
    wc.offloads.tcp = o.sluice_checksums;
    wc.mtu = mtu;
    // As the Linux side's TCP_NODELAY: every request leaves at once.
    wc.tcp.nagle = false;
    if (o.sluice_buffer != 0) {
        wc.tcp.send_buffer = o.sluice_buffer;
        wc.tcp.receive_buffer = o.sluice_buffer;
    }
    // crr leaves a TIME-WAIT per connection on the server until a new SYN on the same 4-tuple
    // replaces it (RFC 6191); the client's 16384 ephemeral ports bound how many there are.
    wc.tcp.max_connections =
        o.load.workload == Workload::Crr ? 32768 : 4096 + 2 * o.load.connections;
    auto worker = Worker::create(wc, end->pool_, *end->clock_);
    if (!worker)
        return Unexpected{worker.error()};
    end->worker_ = std::move(worker.value());
    return end;
}

// Splits a poll loop's time into turns that received something and turns that did not, with one
// TSC read per turn: the loop being measured should not pay much for being measured.
class BusyClock {
  public:
    BusyClock() : start_(rte_rdtsc()), last_(start_) {}
    // After each turn; the TSC now.
    std::uint64_t turn(bool received) {
        const std::uint64_t now = rte_rdtsc();
        if (received)
            busy_ += now - last_;
        last_ = now;
        return now;
    }
    std::uint64_t busy() const { return busy_; }
    std::uint64_t last() const { return last_; }
    std::uint64_t start() const { return start_; }

  private:
    std::uint64_t start_;
    std::uint64_t last_;
    std::uint64_t busy_ = 0;
};

double share(std::uint64_t busy, std::uint64_t total) {
    return total > 0 ? 100.0 * static_cast<double>(busy) / static_cast<double>(total) : 0.0;
}

// The worker's own counters that say whether the run was clean, and every drop by its reason.
MessageWriter& add_counters(MessageWriter& m, const WorkerCounters& c) {
    m.field("rx_packets", c.rx_packets)
        .field("tx_packets", c.tx_packets)
        .field("tcp_bytes_sent", c.tcp_bytes_sent)
        .field("tcp_bytes_received", c.tcp_bytes_received)
        .field("window_probes", c.tcp_window_probes)
        .field("retransmits", c.tcp_retransmitted_segments)
        .field("timeouts", c.tcp_timeouts)
        .field("resets_sent", c.tcp_resets_sent)
        .field("resets_received", c.tcp_resets_received)
        .field("challenge_acks", c.tcp_challenge_acks)
        .field("drops", c.dropped_total());
    c.for_each([&m](std::string_view name, std::uint64_t value) {
        if (value != 0 && name.starts_with("drop."))
            m.field(name, value);
    });
    return m;
}

}  // namespace

int run_sluice_server(const PerfOptions& options, const std::atomic<bool>& stop,
                      const std::atomic<unsigned>& marks) {
    auto end = SluiceEnd::create(options, /*server=*/true);
    if (!end) {
        std::fprintf(stderr, "sluice-perf: sluice server: %s\n", end.error().c_str());
        return 1;
    }
    Worker& worker = (*end)->worker();
    tcp::TcpStack& tcp = worker.tcp();
    std::unique_ptr<api::ListenHandler> service;
    switch (options.load.workload) {
        case Workload::Rr:
        case Workload::Latency:
            service = std::make_unique<services::EchoService>(tcp.slot_count());
            break;
        case Workload::Crr:
            service = std::make_unique<CrrServer>(options.load.size, tcp.slot_count());
            break;
        case Workload::Stream:
            // An endless source: it runs until the client goes away.
            service = std::make_unique<services::SourceService>(
                std::numeric_limits<std::uint64_t>::max() / 2);
            break;
    }
    if (auto st = tcp.listen(kSluiceServerPort, service.get()); !st) {
        std::fprintf(stderr, "sluice-perf: sluice server: listen: %s\n", std::strerror(st.error()));
        return 1;
    }
    MessageWriter("ready").field("port", std::uint64_t{kSluiceServerPort}).send();

    const Clock::time_point deadline = server_deadline(options);
    BusyClock busy;
    // (busy cycles, TSC) when the window opened and when it closed.
    struct Mark {
        std::uint64_t busy;
        std::uint64_t at;
    };
    std::vector<Mark> window;
    window.reserve(2);
    unsigned marks_seen = 0;
    for (std::uint64_t turn = 0; !stop.load(std::memory_order_relaxed); ++turn) {
        busy.turn(worker.poll_once() > 0);
        if (const unsigned m = marks.load(std::memory_order_relaxed); m != marks_seen) {
            marks_seen = m;
            if (window.size() < 2)
                window.push_back(Mark{busy.busy(), busy.last()});
        }
        if ((turn & 4095) == 0 && Clock::now() >= deadline)
            break;
    }
    MessageWriter m("server");
    m.field("busy", share(busy.busy(), busy.last() - busy.start()));
    if (window.size() == 2)
        m.field("window_busy", share(window[1].busy - window[0].busy, window[1].at - window[0].at));
    add_counters(m, worker.counters()).send();
    // The service's held buffers go back to the pool while there is one; the worker calls no
    // handler on its way down, so the service may go first.
    service.reset();
    end->reset();
    return 0;
}

int run_sluice_client(const PerfOptions& options, const std::atomic<bool>& stop) {
    auto end = SluiceEnd::create(options, /*server=*/false);
    if (!end) {
        std::fprintf(stderr, "sluice-perf: sluice client: %s\n", end.error().c_str());
        return 1;
    }
    // memif's link comes up once the two ends have met on the control socket.
    const Clock::time_point link_deadline = Clock::now() + std::chrono::seconds(15);
    while (!(*end)->port().link().up) {
        if (Clock::now() >= link_deadline || stop.load()) {
            std::fprintf(stderr,
                         "sluice-perf: sluice client: the memif link to %s did not come "
                         "up in 15 s (is the server running?)\n",
                         options.memif_socket.c_str());
            return 1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }

    Worker& worker = (*end)->worker();
    ClientTally tally;
    LoadClient client(options.load, worker.tcp(), *wire::Ipv4Address::parse(kSluiceServerAddress),
                      kSluiceServerPort, tally);
    LoadMeter meter(options.load);
    const Clock::time_point give_up = Clock::now() + std::chrono::seconds(15);

    // The loop's share of turns that received something: the poll-mode client always shows 100 %
    // CPU, so this is what says how close it is to being the bottleneck.
    BusyClock busy;
    std::uint64_t window_busy_start = 0;
    std::uint64_t window_cycles_start = 0;
    double busy_percent = 0;
    bool finished = false;
    for (std::uint64_t turn = 0; !stop.load(std::memory_order_relaxed); ++turn) {
        client.open_connections();
        const std::uint64_t tsc = busy.turn(worker.poll_once() > 0);
        // The meter's deadlines are milliseconds apart: the system clock every 16th turn is enough.
        if ((turn & 15) != 0)
            continue;
        const Clock::time_point now = Clock::now();
        if (!meter.begun()) {
            if (tally.first_established) {
                meter.begin(now);
            } else if (now >= give_up) {
                std::fprintf(stderr, "sluice-perf: sluice client: no connection to %s:%u in 15 s\n",
                             kSluiceServerAddress, kSluiceServerPort);
                break;
            }
            continue;
        }
        const LoadMeter::Event event = meter.tick(now, tally.completed);
        if (event == LoadMeter::Event::WindowOpened) {
            window_busy_start = busy.busy();
            window_cycles_start = tsc;
            tally.record_latency = true;
        } else if (event == LoadMeter::Event::WindowClosed) {
            tally.record_latency = false;
            busy_percent = share(busy.busy() - window_busy_start, tsc - window_cycles_start);
            finished = true;
            break;
        }
    }
    if (!finished)
        return 1;
    MessageWriter m = client_result(options.load, meter, tally.latency, tally.errors);
    m.field("busy", busy_percent).field("connect_failures", tally.connect_failures);
    add_counters(m, worker.counters()).send();
    // The link stays up, unpolled, until the orchestrator has stopped the server: memif tears a
    // link down on its control thread, under the feet of a peer that is still polling it, and
    // that peer may crash. A server that has stopped polling is safe.
    const Clock::time_point orphaned = Clock::now() + std::chrono::seconds(60);
    while (!stop.load() && Clock::now() < orphaned)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return 0;
}

}  // namespace sluice::perf
