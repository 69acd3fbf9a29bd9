// What an ACK costs the sender in SACK recovery, against how much is in flight: the scoreboard is
// judged (RFC 6675 IsLost and RACK, RFC 8985 6.2) by walking everything in flight, and PRR, the
// lost segments to resend and RACK's timer each want its verdict on every ACK.
//
// Each iteration is one recovery on a fresh connection (set up untimed): slow start takes the
// window to `in_flight` segments (no timestamps, so RACK and the RTT run on the send queue's send
// times), the first segment of the window is lost, and the peer's ACKs then SACK one more segment
// each until half the window is SACKed: the third begins recovery, and every later one is an ACK
// in recovery (PRR, perhaps a retransmission, new data, the timer). Timed: delivering those ACKs,
// the worker's loop turns that process them, and the freeing of what it sent. Counter per_ack is
// the figure to compare across in_flight: it grows with the window as long as each ACK walks the
// whole of it.
#include <benchmark/benchmark.h>
#include <rte_cycles.h>

#include <stdexcept>
#include <vector>

#include "bench/micro/micro_benchmarks.hpp"
#include "bench/micro/micro_environment.hpp"
#include "bench/micro/tcp_rig.hpp"

namespace sluice::bench {

namespace {

constexpr std::uint16_t kWindow = 65535;  // scaled by the rig's window shift 7: 8 MiB

void sack_recovery(benchmark::State& state) {
    try {
        const auto in_flight = static_cast<std::uint32_t>(state.range(0));
        TcpRig::Options options;
        options.tcp.send_buffer = 16U << 20;
        TcpRig rig(options);
        std::uint16_t peer_port = 20000;
        std::uint64_t acks = 0;
        std::uint64_t recoveries = 0;
        double seconds = 0;
        for (auto _ : state) {
            const std::uint16_t port = peer_port++;
            TcpRig::Connection c = rig.establish(port, /*timestamps=*/false);
            const std::uint32_t mss = c.mss;
            // Enough for slow start to reach the window, and half a window more for PRR to send.
            const std::size_t queued = (2 * std::size_t{in_flight} + in_flight / 2) * mss;
            const std::vector<std::byte> bytes(queued, std::byte{0x5a});
            auto accepted = c.handle.send(bytes);
            if (!accepted || *accepted != queued)
                throw std::runtime_error("the send buffer did not take the data");
            rig.run_until_idle();
            rig.drain_transmitted();
            std::uint32_t una = c.our_next_seq;
            for (int round = 0; round < 40; ++round) {
                const std::uint32_t out = c.handle.info()->bytes_in_flight;
                if (out >= in_flight * mss)
                    break;
                rig.clock().advance(std::chrono::microseconds(100));
                una += out;
                rig.deliver(FrameTemplate(PeerSegment{.seq = c.peer_next_seq,
                                                      .ack = una,
                                                      .window = kWindow,
                                                      .source_port = port})
                                .make());
                rig.run_until_idle();
                rig.drain_transmitted();
            }
            const std::uint32_t out = c.handle.info()->bytes_in_flight;
            if (out < in_flight * mss)
                throw std::runtime_error("slow start did not fill the window");
            // The ACKs, built untimed: segment 0 lost, 1..k SACKed by the k-th.
            std::vector<rte_mbuf*> frames;
            for (std::uint32_t k = 1; k <= in_flight / 2; ++k) {
                PeerSegment ack{
                    .seq = c.peer_next_seq, .ack = una, .window = kWindow, .source_port = port};
                ack.options.sack_blocks[0] = {tcp::SeqNum(una + mss),
                                              tcp::SeqNum(una + (k + 1) * mss)};
                ack.options.sack_block_count = 1;
                frames.push_back(FrameTemplate(ack).make());
            }
            rig.clock().advance(std::chrono::microseconds(100));
            const std::uint64_t recoveries_before = rig.counters().tcp_recoveries;

            const std::uint64_t start = rte_rdtsc();
            for (rte_mbuf* m : frames) {
                rig.clock().advance(std::chrono::microseconds(1));
                rig.deliver(m);
                rig.run_until_idle();
                rig.drain_transmitted();
            }
            const std::uint64_t took = rte_rdtsc() - start;

            const double s = static_cast<double>(took) / static_cast<double>(rte_get_tsc_hz());
            state.SetIterationTime(s);
            seconds += s;
            acks += frames.size();
            recoveries += rig.counters().tcp_recoveries - recoveries_before;
            c.handle.abort();
            rig.run_until_idle();
            rig.drain_transmitted();
        }
        if (recoveries != static_cast<std::uint64_t>(state.iterations()))
            throw std::runtime_error("not every iteration was one recovery");
        state.counters["per_ack"] =
            benchmark::Counter(acks == 0 ? 0.0 : seconds * 1e9 / static_cast<double>(acks));
        state.counters["in_flight"] = in_flight;
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

}  // namespace

void register_sack_recovery_benchmarks() {
    // Windows slow start reaches exactly (10 segments doubled), up to what the pool holds.
    with_min(benchmark::RegisterBenchmark("sack_recovery/ack", sack_recovery))
        ->Arg(160)
        ->Arg(640)
        ->Arg(1280)
        ->UseManualTime();
}

}  // namespace sluice::bench
