// One worker, as the engine builds it (dataplane/worker.hpp: NetStack and TcpStack behind a
// TxBatch, driven by Worker::poll_once), on a real DPDK port whose rings the benchmark holds
// (net_ring, rte_eth_from_rings) and on a manual clock. The benchmark plays the NIC and the peer:
// it puts prebuilt frames on the rx ring, runs the worker's loop, and frees what the worker
// transmitted.
//
// Like tests/support/tcp_fixture, but without GoogleTest and with what a benchmark needs: frame
// templates copied into mbufs per burst (FrameTemplate) and counts instead of parsed segments.
// Set-up problems throw std::runtime_error; benchmarks turn that into SkipWithError.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <sluice/connection.hpp>
#include "bench/micro/micro_environment.hpp"
#include "dataplane/flow/rss_model.hpp"
#include "dataplane/timers/clock.hpp"
#include "dataplane/wire/tcp.hpp"
#include "dataplane/worker.hpp"
#include "tests/support/test_link.hpp"

namespace sluice::bench {

using test::kPeerPort;
using test::kServerPort;

// A segment from the peer. `payload_length` bytes of a fixed pattern follow the header.
struct PeerSegment {
    std::uint8_t flags = wire::tcp_flag::kAck;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint16_t window = 65535;
    wire::TcpOptions options{};
    std::uint16_t payload_length = 0;
    std::uint16_t source_port = kPeerPort;
    std::uint16_t destination_port = kServerPort;
};

// What a NIC writes into the mbuf of a frame it received, besides the bytes: checksum verdicts
// and the RSS hash, when the device was asked for them (TcpRig::nic_marks()).
struct NicMarks {
    std::uint64_t ol_flags = 0;
    std::uint32_t rss_hash = 0;
};

// A whole frame from the peer (Ethernet, IPv4, TCP, payload; checksums right), built once and then
// copied into an mbuf per use, with its sequence number changed: the NIC's DMA, in effect.
class FrameTemplate {
  public:
    explicit FrameTemplate(const PeerSegment& segment, NicMarks marks = {});

    std::size_t size() const { return bytes_.size(); }
    // Fills `m` (fresh from the pool) with the frame, its sequence number set to `seq` and the TCP
    // checksum adjusted to match (RFC 1624).
    void fill(rte_mbuf* m, std::uint32_t seq) const { fill(m, seq, ack_); }
    // The same with the acknowledgment number set to `ack` too.
    void fill(rte_mbuf* m, std::uint32_t seq, std::uint32_t ack) const;
    // A fresh mbuf from the benchmarks' pool holding the frame as built.
    rte_mbuf* make() const;

  private:
    std::vector<std::byte> bytes_;
    std::size_t tcp_offset_ = 0;
    std::uint32_t seq_ = 0;
    std::uint32_t ack_ = 0;
    NicMarks marks_;
};

// Accepts every connection and reads everything that arrives, zero-copy, freeing each buffer at
// once: the least an application can do with the data.
class SinkHandler final : public api::ListenHandler, public api::ConnectionHandler {
  public:
    api::ConnectionHandler* on_accept(api::Connection c) override;
    void on_readable(api::Connection c) override;

    std::vector<api::Connection> accepted;
    std::uint64_t bytes_read = 0;
};

class TcpRig {
  public:
    static constexpr wire::MacAddress kOurMac = test::kEngineMac;
    static constexpr wire::MacAddress kPeerMac = test::kPeerMac;
    static constexpr wire::Ipv4Address kOurIp = test::kEngineIp;
    static constexpr wire::Ipv4Address kPeerIp = test::kPeerIp;

    struct Options {
        tcp::TcpConfig tcp = default_tcp();
        ChecksumOffloads offloads{};  // none: checksums in software, as on net_ring or af_packet
        // The device's RSS key is known (drivers/rss.cpp programmed it): the flow table hashes as
        // the NIC does and takes the hash from the mbuf (flow/flow_hash.hpp).
        bool device_rss = false;
    };
    // The engine's defaults, with fewer connection slots (memory, not speed: the flow table is
    // the same structure at any size).
    static tcp::TcpConfig default_tcp();

    // Starts the worker; the peer introduces itself with an ARP request, as a real one would.
    explicit TcpRig(const Options& options);
    ~TcpRig();
    TcpRig(const TcpRig&) = delete;
    TcpRig& operator=(const TcpRig&) = delete;

    Worker& worker() { return *worker_; }
    tcp::TcpStack& tcp() { return worker_->tcp(); }
    ManualClock& clock() { return clock_; }
    SinkHandler& handler() { return handler_; }
    const WorkerCounters& counters() const { return worker_->counters(); }

    // What the NIC would mark on a frame from kPeerIp:peer_port to our kServerPort: checksums good
    // when rx checksum offload is on, the Toeplitz hash when the device's RSS is known.
    NicMarks nic_marks(std::uint16_t peer_port) const;

    // The NIC's side: frames onto the rx ring (all of them, or throws).
    void deliver(std::span<rte_mbuf* const> frames);
    void deliver(rte_mbuf* frame) { deliver({&frame, 1}); }
    // Runs the worker's loop until the rx ring is empty (at least one turn); returns the turns.
    unsigned run_until_idle();
    // Frees everything the worker has transmitted; returns how many frames that was.
    unsigned drain_transmitted();
    // What the benchmarks time: one turn of the worker's loop and the freeing of what it sent
    // (a NIC driver's tx completion), on `stopwatch`. Returns the frames sent.
    unsigned timed_turn(Stopwatch& stopwatch);
    // The same frames as bytes, for checking set-up steps.
    std::vector<std::vector<std::byte>> take_transmitted();

    // An established connection, and where each side's sequence numbers stand.
    struct Connection {
        api::Connection handle;
        std::uint32_t peer_next_seq = 0;  // the peer's next sequence number
        std::uint32_t our_next_seq = 0;   // ours, as the peer sees it
        std::uint32_t our_ts = 0;         // the last timestamp value we sent (for echoes)
        std::uint16_t mss = 0;            // payload per full segment either way
        bool timestamps = false;
    };
    // A passive open on kServerPort from kPeerIp:peer_port, with the options a Linux peer sends
    // (MSS 1460, window scale 7, SACK permitted, and timestamps when `timestamps`). The peer's
    // window is 65535 << 7, so our sending is never window-limited.
    Connection establish(std::uint16_t peer_port, bool timestamps);
    // The options every non-SYN segment of `c`'s peer carries.
    static wire::TcpOptions peer_options(const Connection& c);

  private:
    ChecksumOffloads offloads_;
    std::unique_ptr<flow::RssModel> rss_;  // outlives the worker, which reads it
    std::string name_;
    rte_ring* rx_ = nullptr;
    rte_ring* tx_ = nullptr;
    std::uint16_t port_id_ = 0;
    bool port_started_ = false;
    ManualClock clock_{std::chrono::seconds(1000)};
    SinkHandler handler_;
    std::unique_ptr<Worker> worker_;
};

// Parses one transmitted frame down to its TCP header; nothing if it is not a valid TCP/IPv4 frame.
// Checksums are verified unless `offloads` say the device was left to fill them in.
std::optional<wire::TcpHeader> parse_tcp_frame(std::span<const std::byte> frame,
                                               const ChecksumOffloads& offloads);

}  // namespace sluice::bench
