// The output path building data segments on an established connection: the application's send()
// (its bytes copied into the send queue), then for each segment RFC 9293 3.7's sending decision,
// an mbuf, the TCP header with its options, the payload copied out of the send queue, the TCP
// checksum (in software, or the pseudo-header sum and offload flags), the retransmission timer,
// the IPv4 header, the next hop's MAC from the neighbour cache, the Ethernet header, the tx batch
// and the port's tx burst; then the worker's loop turn and the freeing of the transmitted frames
// (a NIC driver's tx completion). Untimed, the peer acknowledges every second segment, as Linux
// does, so the congestion window stays open; the benchmark checks that every iteration sent
// exactly its 32 segments.
//
// Variants, per segment in per_segment:
//   1448B/software_checksum   32 full segments from one send() of 32 x 1448 bytes (timestamps on,
//                             as against a Linux peer), checksums in software: net_ring, af_packet
//                             and any device without TCP checksum offload
//   1448B/tx_checksum_offload the same with IPv4 and TCP tx checksum offload negotiated: the stack
//                             writes the pseudo-header sum and the mbuf's offload flags instead
//   64B/software_checksum     32 sends of 64 bytes with Nagle off, one segment each: the fixed
//                             cost of a segment, with little payload to copy or sum
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <vector>

#include "bench/micro/micro_benchmarks.hpp"
#include "bench/micro/micro_environment.hpp"
#include "bench/micro/tcp_rig.hpp"

namespace sluice::bench {

namespace {

constexpr unsigned kSegments = 32;  // per iteration: one tx batch

struct Variant {
    const char* name;
    std::uint16_t payload;  // 0: full segments (the MSS)
    bool offload;
};

// The peer's side of a connection we send on: it acknowledges what arrived, one ACK for every
// second full segment and one for the rest.
class AckingPeer {
  public:
    AckingPeer(TcpRig& rig, const TcpRig::Connection& c)
        : rig_(rig),
          c_(c),
          ack_(PeerSegment{
              .seq = c.peer_next_seq, .ack = c.our_next_seq, .options = TcpRig::peer_options(c)}),
          acked_(c.our_next_seq) {}

    // Acknowledges everything the connection has in flight; returns what the worker sent back.
    unsigned acknowledge_all() {
        const auto info = c_.handle.info();
        if (!info)
            throw std::runtime_error("the connection is gone");
        const std::uint32_t target = acked_ + info->bytes_in_flight;
        const std::uint32_t step = 2u * c_.mss;
        std::vector<rte_mbuf*> frames;
        for (std::uint32_t done = 0; done < info->bytes_in_flight;) {
            done = std::min(done + step, info->bytes_in_flight);
            rte_mbuf* m = rte_pktmbuf_alloc(packet_pool());
            if (m == nullptr)
                throw std::runtime_error("the mbuf pool is empty (a leak?)");
            ack_.fill(m, c_.peer_next_seq, acked_ + done);
            frames.push_back(m);
        }
        acked_ = target;
        if (frames.empty())
            return 0;
        rig_.deliver(frames);
        rig_.run_until_idle();
        return rig_.drain_transmitted();
    }

  private:
    TcpRig& rig_;
    const TcpRig::Connection& c_;
    FrameTemplate ack_;
    std::uint32_t acked_;
};

void segment_build(benchmark::State& state, Variant v) {
    try {
        TcpRig::Options options;
        if (v.offload) {
            options.offloads.tx_ipv4 = true;
            options.offloads.tx_tcp = true;
        }
        options.tcp.nagle = v.payload == 0;  // small segments go out one per send()
        TcpRig rig(options);
        TcpRig::Connection c = rig.establish(kPeerPort, /*timestamps=*/true);
        AckingPeer peer(rig, c);
        const std::uint16_t payload = v.payload == 0 ? c.mss : v.payload;
        const std::vector<std::byte> data(std::size_t{payload} * kSegments, std::byte{0x5a});

        // The application's part: one send() of the whole burst, or one per small segment.
        const auto send_burst = [&] {
            if (v.payload == 0) {
                const auto sent = c.handle.send(data);
                if (!sent || *sent != data.size())
                    throw std::runtime_error("send() did not take the whole burst");
                return;
            }
            for (unsigned i = 0; i < kSegments; ++i) {
                const auto sent =
                    c.handle.send(std::span(data).subspan(std::size_t{i} * payload, payload));
                if (!sent || *sent != payload)
                    throw std::runtime_error("send() did not take a small segment");
            }
        };

        // Slow start from the initial window of ten segments (RFC 6928) until a whole burst fits
        // in the congestion window, untimed.
        for (int round = 0;; ++round) {
            const auto info = c.handle.info();
            if (info && info->cwnd >= (kSegments + 2) * c.mss)
                break;
            if (round == 100)
                throw std::runtime_error("the congestion window does not open");
            send_burst();
            rig.worker().poll_once();
            if (round == 0) {
                // What is measured must be right: every frame parses, checksums included.
                for (const auto& frame : rig.take_transmitted()) {
                    const auto th = parse_tcp_frame(frame, options.offloads);
                    if (!th || !th->has(wire::tcp_flag::kAck))
                        throw std::runtime_error("the worker sent a malformed data segment");
                }
            }
            rig.drain_transmitted();
            while (peer.acknowledge_all() > 0) {
            }
        }

        Stopwatch stopwatch;
        for (auto _ : state) {
            stopwatch.start();
            send_burst();
            rig.worker().poll_once();
            const unsigned sent = rig.drain_transmitted();
            stopwatch.stop();
            stopwatch.report(state);
            if (sent != kSegments)
                throw std::runtime_error("an iteration sent " + std::to_string(sent) +
                                         " segments, not 32");
            if (peer.acknowledge_all() != 0)
                throw std::runtime_error("the worker answered the peer's ACKs");
        }
        state.counters["per_segment"] = per_unit(kSegments);
        stopwatch.report_preemptions(state);
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

}  // namespace

void register_segment_build_benchmarks() {
    const Variant variants[] = {
        {"segment_build/1448B/software_checksum", 0, false},
        {"segment_build/1448B/tx_checksum_offload", 0, true},
        {"segment_build/64B/software_checksum", 64, false},
    };
    for (const Variant& v : variants)
        with_min(benchmark::RegisterBenchmark(v.name, segment_build, v))->UseManualTime();
}

}  // namespace sluice::bench
