// One in-order, full-sized data segment through a worker: rx burst from the port, Ethernet/IPv4/TCP
// parse with software checksum checks, flow lookup, RFC 9293 3.10.7.4 (PAWS, acceptability, ACK
// processing, text), the zero-copy hand-over to the application (which reads and frees the buffer),
// the ACKs the stack decides to send (built, checksummed, framed, batched to the port), the
// timers, and the freeing of the transmitted ACKs (a NIC driver's tx completion). The connection
// is a real one, opened with a handshake; the peer's frames are prebuilt and copied into mbufs
// before each burst, untimed, as a NIC's DMA would have delivered them.
//
// Variants (the target is <= 100 ns per segment):
//   burst32/delayed_ack/timestamps     the engine's defaults against a Linux peer (timestamps on,
//                                      so 1448-byte payloads): 32 segments per loop turn. The
//                                      stack ACKs when two full segments (2 x 1460 bytes, our MSS)
//                                      are owed, which at 1448 bytes is every third segment.
//   burst32/delayed_ack/no_timestamps  the same with 1460-byte payloads: an ACK every second.
//   burst32/delayed_ack/nic_offloads   the first, on a device that checks and fills in IPv4 and
//                                      TCP checksums and whose RSS key is known: frames arrive
//                                      marked "checksums good" with the Toeplitz hash in the mbuf,
//                                      as such a NIC marks them, and the flow lookup reuses it.
//   turn_per_segment/delayed_ack       one segment per loop turn (a light load), 1 ms apart, so
//                                      every segment also pays for a whole turn of the loop (rx
//                                      burst, timers, tx flush); ACKs as above.
//   turn_per_segment/ack_every_segment the same with delayed_ack = 0: each segment's ACK leaves
//                                      from the delayed-ACK timer on the next turn, so every
//                                      segment is ACKed. The difference to the previous variant,
//                                      divided by the difference in ACKs per segment, is the
//                                      marginal cost of one ACK (README.md).
// Counters: per_segment (the figure to compare), acks_per_segment, per_ack (time per ACK sent,
// segment work included). Each benchmark checks that every byte reached the application and that
// nothing was dropped, and fails otherwise.
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <stdexcept>

#include "bench/micro/micro_benchmarks.hpp"
#include "bench/micro/micro_environment.hpp"
#include "bench/micro/tcp_rig.hpp"

namespace sluice::bench {

namespace {

constexpr unsigned kBurst = Worker::kRxBurst;  // a full rx burst per loop turn

struct Variant {
    const char* name;
    bool timestamps;
    bool turn_per_segment;
    bool ack_every_segment;
    bool nic_offloads = false;
};

void segment_path(benchmark::State& state, Variant v) {
    try {
        TcpRig::Options options;
        if (v.ack_every_segment)
            options.tcp.delayed_ack = Nanos{0};
        if (v.nic_offloads) {
            options.offloads =
                ChecksumOffloads{.rx_ipv4 = true, .tx_ipv4 = true, .rx_tcp = true, .tx_tcp = true};
            options.device_rss = true;
        }
        TcpRig rig(options);
        const TcpRig::Connection c = rig.establish(kPeerPort, v.timestamps);
        PeerSegment data{.seq = c.peer_next_seq,
                         .ack = c.our_next_seq,
                         .options = TcpRig::peer_options(c),
                         .payload_length = c.mss};
        const FrameTemplate frame(data, rig.nic_marks(kPeerPort));

        const WorkerCounters before = rig.counters();
        const std::uint64_t read_before = rig.handler().bytes_read;
        std::uint32_t seq = c.peer_next_seq;
        std::uint64_t segments = 0;
        std::uint64_t acks = 0;
        Stopwatch stopwatch;
        std::array<rte_mbuf*, kBurst> frames;
        for (auto _ : state) {
            // The NIC's part, untimed: the burst's frames, in order.
            if (rte_pktmbuf_alloc_bulk(packet_pool(), frames.data(), kBurst) != 0)
                throw std::runtime_error("the mbuf pool is empty (a leak?)");
            for (rte_mbuf* m : frames) {
                frame.fill(m, seq);
                seq += c.mss;
            }
            if (v.turn_per_segment) {
                for (rte_mbuf* m : frames) {
                    rig.deliver(m);
                    rig.clock().advance(std::chrono::milliseconds(1));
                    acks += rig.timed_turn(stopwatch);
                }
            } else {
                rig.deliver(frames);
                acks += rig.timed_turn(stopwatch);
            }
            stopwatch.report(state);
            segments += kBurst;
        }

        const WorkerCounters& after = rig.counters();
        if (after.dropped_total() != before.dropped_total())
            throw std::runtime_error("the worker dropped segments");
        if (rig.handler().bytes_read - read_before != segments * c.mss)
            throw std::runtime_error("not every byte reached the application");
        if (after.tcp_segments_sent - before.tcp_segments_sent != acks)
            throw std::runtime_error("the worker sent frames that are not TCP segments");
        state.counters["per_segment"] = per_unit(kBurst);
        state.counters["acks_per_segment"] =
            segments == 0 ? 0.0 : static_cast<double>(acks) / static_cast<double>(segments);
        if (acks > 0)
            state.counters["per_ack"] = per_unit_total(static_cast<double>(acks));
        stopwatch.report_preemptions(state);
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

}  // namespace

void register_segment_path_benchmarks() {
    const Variant variants[] = {
        {"segment_path/burst32/delayed_ack/timestamps", true, false, false},
        {"segment_path/burst32/delayed_ack/no_timestamps", false, false, false},
        {"segment_path/burst32/delayed_ack/nic_offloads", true, false, false, true},
        {"segment_path/turn_per_segment/delayed_ack", true, true, false},
        {"segment_path/turn_per_segment/ack_every_segment", true, true, true},
    };
    for (const Variant& v : variants)
        with_min(benchmark::RegisterBenchmark(v.name, segment_path, v))->UseManualTime();
}

}  // namespace sluice::bench
