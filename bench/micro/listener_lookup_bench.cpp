// Finding the listener for a SYN, through the public path only: a SYN from the peer travels the
// whole receive path of a real worker (rx burst, parse with checksum checks, the flow table's miss,
// TcpStack's listener lookup) and the benchmark varies what the lookup has to search. The lookup
// itself is private to TcpStack (a linear scan of the listeners, which the code says are "few");
// its cost shows as the difference between a SYN for the first and for the last of N listeners.
//
// Variants, per SYN in per_syn, 32 SYNs per loop turn:
//   syn_backlog_full/listeners:N/first|last
//       the listener's backlog is 0, so each SYN stops right after the lookup (counted as
//       TcpListenOverflow, nothing sent): the receive path plus the lookup and little else. N
//       listeners on N ports; the SYN is for the first one registered or the last.
//   syn_to_synack/listeners:N
//       the whole passive open of RFC 9293 3.10.7.2: lookup (of the last of N), a TCB, an ISN
//       (SipHash), the SYN-ACK with its options built and sent. 32 different peers per burst;
//       untimed, each peer then resets its half-open connection, which frees the TCB.
// The per-listener cost is (last - first) / (N - 1) for syn_backlog_full (README.md).
#include <benchmark/benchmark.h>

#include <array>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/micro/micro_benchmarks.hpp"
#include "bench/micro/micro_environment.hpp"
#include "bench/micro/tcp_rig.hpp"

namespace sluice::bench {

namespace {

using namespace wire::tcp_flag;

constexpr unsigned kBurst = Worker::kRxBurst;  // one rx burst per loop turn
constexpr std::uint32_t kPeerIsn = 5'000'000;
constexpr std::uint16_t kFirstExtraPort = 1000;  // listeners 2..N; the first is kServerPort

// A Linux client's SYN from `peer_port` to `port`.
PeerSegment syn_to(std::uint16_t port, std::uint16_t peer_port) {
    PeerSegment syn{
        .flags = kSyn, .seq = kPeerIsn, .source_port = peer_port, .destination_port = port};
    syn.options.mss = 1460;
    syn.options.window_scale = 7;
    syn.options.sack_permitted = true;
    syn.options.timestamps = wire::TcpTimestamps{1, 0};
    return syn;
}

// The rig listens on kServerPort; adds listeners until there are `count`, and returns the port of
// the last one.
std::uint16_t add_listeners(TcpRig& rig, unsigned count) {
    std::uint16_t last = kServerPort;
    for (unsigned i = 1; i < count; ++i) {
        last = static_cast<std::uint16_t>(kFirstExtraPort + i);
        if (!rig.tcp().listen(last, &rig.handler()).ok())
            throw std::runtime_error("cannot add a listener");
    }
    return last;
}

void alloc_burst(std::array<rte_mbuf*, kBurst>& frames) {
    if (rte_pktmbuf_alloc_bulk(packet_pool(), frames.data(), kBurst) != 0)
        throw std::runtime_error("the mbuf pool is empty (a leak?)");
}

void syn_backlog_full(benchmark::State& state, unsigned listeners, bool last) {
    try {
        TcpRig::Options options;
        options.tcp.listen_backlog = 0;
        TcpRig rig(options);
        const std::uint16_t last_port = add_listeners(rig, listeners);
        const FrameTemplate syn(syn_to(last ? last_port : kServerPort, kPeerPort));
        const std::uint64_t overflows_before =
            rig.counters().dropped(DropReason::TcpListenOverflow);
        std::uint64_t syns = 0;
        Stopwatch stopwatch;
        std::array<rte_mbuf*, kBurst> frames;
        for (auto _ : state) {
            alloc_burst(frames);
            for (rte_mbuf* m : frames)
                syn.fill(m, kPeerIsn);
            rig.deliver(frames);
            const unsigned sent = rig.timed_turn(stopwatch);
            stopwatch.report(state);
            if (sent != 0)
                throw std::runtime_error("the worker answered a SYN beyond the backlog");
            syns += kBurst;
        }
        if (rig.counters().dropped(DropReason::TcpListenOverflow) - overflows_before != syns)
            throw std::runtime_error("a SYN did not reach the full listener");
        state.counters["per_syn"] = per_unit(kBurst);
        stopwatch.report_preemptions(state);
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

void syn_to_synack(benchmark::State& state, unsigned listeners) {
    try {
        TcpRig rig(TcpRig::Options{});
        const std::uint16_t port = add_listeners(rig, listeners);
        std::vector<FrameTemplate> syns;
        std::vector<FrameTemplate> resets;
        for (unsigned i = 0; i < kBurst; ++i) {
            const auto peer_port = static_cast<std::uint16_t>(kPeerPort + i);
            syns.emplace_back(syn_to(port, peer_port));
            // RFC 9293 3.10.7.4 second check, RFC 5961 3.2: a RST at exactly RCV.NXT ends the
            // half-open connection; a passive one goes back to LISTEN, its TCB freed.
            resets.emplace_back(PeerSegment{.flags = kRst,
                                            .seq = kPeerIsn + 1,
                                            .source_port = peer_port,
                                            .destination_port = port});
        }
        Stopwatch stopwatch;
        std::array<rte_mbuf*, kBurst> frames;
        for (auto _ : state) {
            alloc_burst(frames);
            for (unsigned i = 0; i < kBurst; ++i)
                syns[i].fill(frames[i], kPeerIsn);
            rig.deliver(frames);
            const unsigned sent = rig.timed_turn(stopwatch);
            stopwatch.report(state);
            if (sent != kBurst)
                throw std::runtime_error("not every SYN got a SYN-ACK");
            alloc_burst(frames);
            for (unsigned i = 0; i < kBurst; ++i)
                resets[i].fill(frames[i], kPeerIsn + 1);
            rig.deliver(frames);
            rig.run_until_idle();
            rig.drain_transmitted();
            if (rig.tcp().connection_count() != 0)
                throw std::runtime_error("a reset did not free its half-open connection");
        }
        state.counters["per_syn"] = per_unit(kBurst);
        stopwatch.report_preemptions(state);
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

}  // namespace

void register_listener_lookup_benchmarks() {
    for (const unsigned n : {1u, 16u, 256u}) {
        for (const bool last : {false, true}) {
            if (n == 1 && last)
                continue;  // the first is the last
            const std::string name =
                "listener_lookup/syn_backlog_full/listeners:" + std::to_string(n) +
                (last ? "/last" : "/first");
            with_min(benchmark::RegisterBenchmark(name.c_str(), syn_backlog_full, n, last))
                ->UseManualTime();
        }
    }
    for (const unsigned n : {1u, 256u}) {
        const std::string name = "listener_lookup/syn_to_synack/listeners:" + std::to_string(n);
        with_min(benchmark::RegisterBenchmark(name.c_str(), syn_to_synack, n))->UseManualTime();
    }
}

}  // namespace sluice::bench
