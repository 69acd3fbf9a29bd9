// Drives one worker's TcpStack segment by segment, as the peer would, over a real net_ring port
// with a manual clock. `inject(Seg{...})` delivers a segment from the peer as a receive burst of
// its own, `inject_burst()` several in one burst, as a worker's loop turn does; `take()` returns
// what the engine sent, parsed back with the wire layer; `advance()` moves time and runs the
// timers.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <sluice/connection.hpp>
#include "dataplane/net/net_stack.hpp"
#include "dataplane/tcp/tcp_stack.hpp"
#include "dataplane/wire/tcp.hpp"
#include "tests/support/ring_port.hpp"
#include "tests/support/test_link.hpp"

namespace sluice::test {

// A segment from the peer. seq/ack are absolute; `payload` bytes are sent as they are.
struct Seg {
    std::uint8_t flags = wire::tcp_flag::kAck;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint16_t window = 65535;
    wire::TcpOptions options{};
    std::vector<std::byte> payload{};
    std::uint16_t source_port = kPeerPort;
    std::uint16_t destination_port = kServerPort;
    // The RSS hash a NIC would have put in the mbuf (RTE_MBUF_F_RX_RSS_HASH); none when empty.
    std::optional<std::uint32_t> device_hash{};
    // The TCP checksum is made wrong after it was computed, as a bit flipped on the wire would.
    bool corrupt_checksum = false;
};

// A segment the engine sent.
struct Sent {
    wire::TcpHeader tcp;
    std::vector<std::byte> payload;
    std::uint16_t checksum = 0;  // the field as sent
    bool has(std::uint8_t flag) const { return tcp.has(flag); }
    std::uint32_t seq() const { return tcp.seq.raw(); }
    std::uint32_t ack() const { return tcp.ack.raw(); }
};

// Records every callback, and does what the test asks in them.
class RecordingHandler : public api::ConnectionHandler, public api::ListenHandler {
  public:
    std::vector<std::string>
        events;  // "accept", "connected", "readable", "writable", "peer_closed", "closed:<reason>"
    std::vector<api::Connection> accepted;
    std::optional<api::Connection> last;
    std::vector<std::byte> received;  // everything read in on_readable (when read_on_readable)
    bool read_on_readable = true;
    bool refuse = false;
    std::function<void(api::Connection)> on_writable_do;  // what the application does then

    api::ConnectionHandler* on_accept(api::Connection c) override;
    void on_connected(api::Connection c) override;
    void on_readable(api::Connection c) override;
    void on_writable(api::Connection c) override;
    void on_peer_closed(api::Connection c) override;
    void on_closed(api::Connection c, api::CloseReason r) override;
    bool saw(const std::string& e) const;
};

class TcpFixture : public ::testing::Test {
  protected:
    static constexpr wire::MacAddress kOurMac = test::kEngineMac;
    static constexpr wire::MacAddress kPeerMac = test::kPeerMac;
    static constexpr wire::Ipv4Address kOurIp = test::kEngineIp;
    static constexpr wire::Ipv4Address kPeerIp = test::kPeerIp;

    void SetUp() override;
    void TearDown() override;
    // Starts the stack with `config` (call from a test to change the defaults before anything
    // else; SetUp starts it with defaults otherwise).
    void start(const tcp::TcpConfig& config);

    void inject(const Seg& s);
    void inject_burst(std::span<const Seg> burst);
    std::vector<Sent> take();
    // What the engine sent, as the frames themselves, still held as a device holds a frame it has
    // not finished sending; the caller frees them. parse_sent() reads one as take() would.
    std::vector<rte_mbuf*> take_frames();
    std::optional<Sent> parse_sent(std::span<const std::byte> frame) const;
    // Exactly one segment went out; returns it.
    Sent expect_one();
    void expect_none();
    void advance(Nanos by);

    // A full passive open on the listener: SYN (with `syn_options`), SYN-ACK, ACK.
    // Returns the accepted connection; peer_seq/our_seq are set to the next numbers.
    api::Connection establish_passive(const wire::TcpOptions& syn_options = {});
    // A full active open to the peer: connect, SYN, SYN-ACK (with `options`), ACK.
    api::Connection establish_active(const wire::TcpOptions& options = {});

    static std::vector<std::byte> bytes(std::string_view s);
    static std::vector<std::byte> pattern(std::size_t n, std::size_t offset = 0);

    tcp::TcpStack& stack() {
        if (!started_)
            start(config_);
        return *tcp_;
    }
    tcp::TcpConfig config_;
    // Set before the stack starts: the RSS the "device" was programmed with.
    const flow::RssModel* device_rss_ = nullptr;
    // Set before the stack starts: the device's checksum offloads (none: a net_ring) and what
    // the link is trusted with. take() checks sent checksums unless they are off.
    ChecksumOffloads offloads_{};
    ManualClock clock_{std::chrono::seconds(1000)};
    WorkerCounters counters_;
    RecordingHandler handler_;
    std::uint32_t peer_seq = 1'000'000;   // the peer's next sequence number
    std::uint32_t our_seq = 0;            // the engine's next sequence number, as the peer sees it
    std::uint16_t peer_port = kPeerPort;  // the engine's remote port in establish_passive
    // The time establish_*() lets pass before the peer answers the engine's SYN or SYN-ACK: the
    // engine's first RTT sample. Zero keeps the clock still.
    Nanos handshake_rtt{0};

  private:
    // Into the stack, without the end of the burst.
    void receive_one(const Seg& s);

    RingPort port_;
    std::unique_ptr<TxBatch> tx_;
    std::unique_ptr<NetStack> net_;
    std::unique_ptr<tcp::TcpStack> tcp_;
    unsigned mbufs_before_ = 0;
    bool started_ = false;
};

}  // namespace sluice::test
