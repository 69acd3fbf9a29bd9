// The TCP core alone: two TcpStacks joined segment to segment by SegmentWire, with no port, no
// NetStack and no Ethernet beneath them (net/transport.hpp is the seam). The wire loses,
// duplicates and reorders exactly the segments a test names, so each recovery mechanism is seen
// doing its own job and nothing else: SACK-based fast retransmit for a lost segment, a tail loss
// probe for a lost last segment, D-SACK for a duplicate, nothing at all for mild reordering.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include <sluice/connection.hpp>
#include "tests/support/eal_environment.hpp"
#include "tests/support/segment_wire.hpp"
#include "tests/support/test_link.hpp"

namespace sluice::test {
namespace {

using Fate = SegmentWire::Fate;
constexpr std::uint32_t kTransfer = 256 * 1024;
constexpr Nanos kOneWay = std::chrono::milliseconds(5);  // SegmentWire's default

std::byte pattern_byte(std::uint64_t offset) {
    return static_cast<std::byte>((offset * 131 + offset / 251) & 0xff);
}

// Sends kTransfer bytes of the pattern as fast as the connection takes them, then its FIN.
class Sender final : public api::ConnectionHandler {
  public:
    void on_connected(api::Connection c) override {
        c.set_user_data(this);
        push(c);
    }
    void on_writable(api::Connection c) override { push(c); }
    void on_peer_closed(api::Connection c) override { (void)c.close(); }
    void on_closed(api::Connection c, api::CloseReason r) override {
        closed = r;
        user_data_at_close = c.user_data();
        std::byte b{};
        send_at_close = c.send({&b, 1}).has_value() ? 0 : c.send({&b, 1}).error();
    }

    std::uint64_t sent = 0;
    std::optional<api::CloseReason> closed;
    void* user_data_at_close = nullptr;
    api::Errno send_at_close = 0;

  private:
    void push(api::Connection c) {
        std::vector<std::byte> chunk(4096);
        while (sent < kTransfer) {
            const std::size_t n = std::min<std::uint64_t>(chunk.size(), kTransfer - sent);
            for (std::size_t i = 0; i < n; ++i)
                chunk[i] = pattern_byte(sent + i);
            const auto taken = c.send({chunk.data(), n});
            if (!taken || *taken == 0)
                return;
            sent += *taken;
        }
        if (!shut)
            shut = c.shutdown_write().ok();
    }
    bool shut = false;
};

// Reads everything, checks every byte against the pattern, and closes after the peer's FIN.
class Receiver final : public api::ListenHandler, public api::ConnectionHandler {
  public:
    api::ConnectionHandler* on_accept(api::Connection c) override {
        c.set_user_data(&received);
        return this;
    }
    void on_readable(api::Connection c) override {
        std::vector<std::byte> buffer(8192);
        for (std::size_t n; (n = c.read(buffer)) > 0;) {
            for (std::size_t i = 0; i < n; ++i) {
                if (buffer[i] != pattern_byte(received + i) && !first_wrong)
                    first_wrong = received + i;
            }
            received += n;
        }
    }
    void on_peer_closed(api::Connection c) override {
        on_readable(c);
        saw_fin = true;
        (void)c.close();
    }
    void on_closed(api::Connection c, api::CloseReason r) override {
        closed = r;
        user_data_at_close = c.user_data();
        handle = c;
    }

    std::uint64_t received = 0;
    void* user_data_at_close = nullptr;
    api::Connection handle;
    std::optional<std::uint64_t> first_wrong;
    bool saw_fin = false;
    std::optional<api::CloseReason> closed;
};

// Shuts down its writing half at once and reads only once the peer has closed: a client that
// sends a request and then collects the whole answer after the server's FIN.
class HalfCloser final : public api::ConnectionHandler {
  public:
    void on_connected(api::Connection c) override { (void)c.shutdown_write(); }
    void on_peer_closed(api::Connection c) override {
        std::vector<std::byte> buffer(4096);
        for (std::size_t n; (n = c.read(buffer)) > 0;) {
            for (std::size_t i = 0; i < n; ++i) {
                if (buffer[i] != pattern_byte(received + i) && !first_wrong)
                    first_wrong = received + i;
            }
            received += n;
        }
        (void)c.close();
    }
    void on_closed(api::Connection, api::CloseReason r) override { closed = r; }

    std::uint64_t received = 0;
    std::optional<std::uint64_t> first_wrong;
    std::optional<api::CloseReason> closed;
};

// Sends `bytes` of the pattern to each connection it accepts, then closes.
class Answerer final : public api::ListenHandler, public api::ConnectionHandler {
  public:
    explicit Answerer(std::uint32_t bytes) : bytes_(bytes) {}
    api::ConnectionHandler* on_accept(api::Connection) override { return this; }
    void on_connected(api::Connection c) override {
        std::vector<std::byte> data(bytes_);
        for (std::size_t i = 0; i < data.size(); ++i)
            data[i] = pattern_byte(i);
        const auto taken = c.send(data);
        sent = taken ? *taken : 0;
        (void)c.close();
    }
    void on_closed(api::Connection, api::CloseReason r) override { closed = r; }

    std::size_t sent = 0;
    std::optional<api::CloseReason> closed;

  private:
    std::uint32_t bytes_;
};

class TcpCore : public ::testing::Test {
  protected:
    void SetUp() override { mbufs_before_ = mbufs_in_use(); }
    void TearDown() override {
        wire_.reset();
        EXPECT_EQ(mbufs_in_use(), mbufs_before_) << "mbufs leaked";
    }

    // Client A connects to B's listener and sends kTransfer bytes; true once B has read and
    // checked them all and both ends have closed.
    bool transfer(const SegmentWire::Filter& filter = {}) {
        tcp::TcpConfig config;
        config.send_buffer = 64 * 1024;
        config.receive_buffer = 64 * 1024;
        wire_ = std::make_unique<SegmentWire>(config);
        EXPECT_EQ(wire_->a().error, "");
        EXPECT_EQ(wire_->b().error, "");
        if (wire_->a().tcp == nullptr || wire_->b().tcp == nullptr)
            return false;
        wire_->set_filter(filter);
        EXPECT_TRUE(wire_->b().tcp->listen(kServerPort, &receiver_).ok());
        EXPECT_TRUE(wire_->a().tcp->connect(kEngineIp, kServerPort, &sender_).has_value());
        wire_->run(std::chrono::seconds(30),
                   [&] { return receiver_.closed.has_value() && sender_.closed.has_value(); });
        EXPECT_EQ(receiver_.received, kTransfer);
        EXPECT_FALSE(receiver_.first_wrong.has_value())
            << "first wrong byte at " << *receiver_.first_wrong;
        EXPECT_TRUE(receiver_.saw_fin);
        EXPECT_EQ(sender_.closed, api::CloseReason::Closed);
        EXPECT_EQ(receiver_.closed, api::CloseReason::Closed);
        return receiver_.received == kTransfer && !receiver_.first_wrong &&
               sender_.closed == api::CloseReason::Closed &&
               receiver_.closed == api::CloseReason::Closed;
    }

    // Picks, once, the client's first transmission of the segment that `which` names, from its
    // offset in the stream and its length.
    static std::function<bool(const WireSegment&)> once(
        std::function<bool(std::uint32_t offset, std::uint32_t length)> which) {
        auto isn = std::make_shared<std::optional<std::uint32_t>>();
        auto done = std::make_shared<bool>(false);
        return [=](const WireSegment& s) {
            if (!s.from_a)
                return false;
            if (s.tcp.has(wire::tcp_flag::kSyn))
                *isn = s.tcp.seq.raw();
            if (*done || !isn->has_value() || s.payload == 0 ||
                !which(s.tcp.seq.raw() - **isn - 1, s.payload))
                return false;
            *done = true;
            return true;
        };
    }
    // The segment that carries byte `offset` of the stream.
    static std::function<bool(const WireSegment&)> carrying(std::uint32_t offset) {
        return once([offset](std::uint32_t start, std::uint32_t length) {
            return start <= offset && offset < start + length;
        });
    }
    WorkerCounters& client() { return wire_->a().counters; }
    WorkerCounters& server() { return wire_->b().counters; }

    std::unique_ptr<SegmentWire> wire_;
    Sender sender_;
    Receiver receiver_;
    unsigned mbufs_before_ = 0;
};

TEST_F(TcpCore, RefusesALinkWithNothingToSendThrough) {
    WorkerCounters counters;
    ManualClock clock;
    const TransportLink nowhere{nullptr, kEngineIp, 1500, ChecksumOffloads{}};
    auto stack = tcp::TcpStack::create(tcp::TcpConfig{}, nowhere, packet_pool(), counters, clock,
                                       "core_nowhere");
    ASSERT_FALSE(stack.has_value());
    EXPECT_NE(stack.error().find("send through"), std::string::npos) << stack.error();
}

TEST_F(TcpCore, ACleanWireCarriesEveryByteWithoutARetransmission) {
    ASSERT_TRUE(transfer());
    EXPECT_EQ(client().tcp_retransmitted_segments, 0U);
    EXPECT_EQ(server().tcp_retransmitted_segments, 0U);
    EXPECT_EQ(wire_->dropped(), 0U);
    // Nothing beneath the cores: every segment either sent crossed the wire, parsed.
    EXPECT_EQ(wire_->delivered(), wire_->log().size());
    EXPECT_EQ(client().tcp_segments_sent + server().tcp_segments_sent, wire_->log().size());
}

TEST_F(TcpCore, AnApplicationClosingOnThePeersFinAnswersWithOneSegment) {
    // The receiver closes inside on_peer_closed: its FIN carries the ACK of the client's FIN
    // (RFC 9293 3.10.7.4), one segment where an ACK and then a FIN would be two.
    ASSERT_TRUE(transfer());
    const auto& log = wire_->log();
    std::size_t client_fin = log.size();
    for (std::size_t i = 0; i < log.size(); ++i) {
        if (log[i].from_a && log[i].tcp.has(wire::tcp_flag::kFin))
            client_fin = i;
    }
    ASSERT_LT(client_fin, log.size());
    const std::uint32_t after_fin = log[client_fin].tcp.seq.raw() + log[client_fin].payload + 1;
    std::vector<WireSegment> answers;  // what the receiver sent that acknowledges the FIN
    for (std::size_t i = client_fin + 1; i < log.size(); ++i) {
        if (!log[i].from_a && log[i].tcp.ack.raw() == after_fin)
            answers.push_back(log[i]);
    }
    ASSERT_EQ(answers.size(), 1U);
    EXPECT_TRUE(answers[0].tcp.has(wire::tcp_flag::kFin));
}

TEST_F(TcpCore, OnClosedStillFindsTheUserDataAndNothingElse) {
    // The client's close ends in TIME-WAIT, the server's in LAST-ACK: the two ways a connection
    // ends for its application. Both handlers find what they hung on the connection, to free it.
    ASSERT_TRUE(transfer());
    EXPECT_EQ(sender_.user_data_at_close, &sender_);
    EXPECT_EQ(receiver_.user_data_at_close, &receiver_.received);
    EXPECT_EQ(sender_.send_at_close, ENOTCONN);
    // Once on_closed has returned, the handle answers nothing.
    EXPECT_EQ(receiver_.handle.user_data(), nullptr);
    EXPECT_FALSE(receiver_.handle.valid());
}

TEST_F(TcpCore, AHalfClosedSideStillReadsWhatCameBeforeThePeersFin) {
    // The client's FIN is acknowledged before the server's data and FIN arrive, so the server's
    // FIN takes the client from FIN-WAIT-2 to TIME-WAIT with all the data still unread. It must
    // stay readable (on_peer_closed, then read), not be dropped with the connection.
    constexpr std::uint32_t kAnswer = 32 * 1024;
    tcp::TcpConfig config;
    config.send_buffer = 64 * 1024;
    config.receive_buffer = 64 * 1024;
    wire_ = std::make_unique<SegmentWire>(config);
    ASSERT_NE(wire_->a().tcp, nullptr);
    HalfCloser half_closer;
    Answerer answerer(kAnswer);
    ASSERT_TRUE(wire_->b().tcp->listen(kServerPort, &answerer).ok());
    ASSERT_TRUE(wire_->a().tcp->connect(kEngineIp, kServerPort, &half_closer).has_value());
    wire_->run(std::chrono::seconds(30),
               [&] { return half_closer.closed.has_value() && answerer.closed.has_value(); });
    EXPECT_EQ(answerer.sent, kAnswer);
    EXPECT_EQ(half_closer.received, kAnswer);
    EXPECT_FALSE(half_closer.first_wrong.has_value());
    EXPECT_EQ(half_closer.closed, api::CloseReason::Closed);
    EXPECT_EQ(answerer.closed, api::CloseReason::Closed);
    EXPECT_EQ(client().tcp_resets_sent + server().tcp_resets_sent, 0U);
}

TEST_F(TcpCore, ALostSegmentInTheMiddleIsResentOnceBySackNotByTimeout) {
    const auto lost = carrying(10 * 1460);
    ASSERT_TRUE(
        transfer([&](const WireSegment& s) { return lost(s) ? Fate::Drop : Fate::Deliver; }));
    EXPECT_EQ(wire_->dropped(), 1U);
    EXPECT_EQ(client().tcp_retransmitted_segments, 1U);
    EXPECT_EQ(client().tcp_fast_retransmits, 1U);
    EXPECT_EQ(client().tcp_timeouts, 0U);
    EXPECT_GT(server().tcp_sack_blocks_sent, 0U);  // RFC 2018: the receiver told the sender
    EXPECT_GT(client().tcp_sack_blocks_received, 0U);
}

TEST_F(TcpCore, ALostLastSegmentIsProbedForNotWaitedFor) {
    // RFC 8985 7: the tail of the transfer has no later segment to reveal its loss; the probe
    // timeout (about two RTTs) resends it long before an RTO would.
    const auto lost = carrying(kTransfer - 1);
    ASSERT_TRUE(
        transfer([&](const WireSegment& s) { return lost(s) ? Fate::Drop : Fate::Deliver; }));
    EXPECT_EQ(wire_->dropped(), 1U);
    EXPECT_GE(client().tcp_tail_loss_probes, 1U);
    EXPECT_EQ(client().tcp_timeouts, 0U);
}

TEST_F(TcpCore, LostAcksCostOneProbeWhoseAnswerIsNotDelayed) {
    // Each flight here arrives as one burst, and what it carries is acknowledged at the end of it
    // (burst_acks.hpp): lose those ACKs and the sender hears nothing until its probe timeout
    // (RFC 8985 7.3). The probe comes after a silence, so the receiver answers it at once instead
    // of holding the ACK for the delayed-ACK time; the transfer goes on without a timeout.
    const auto marked = carrying(64 * 1024);
    std::optional<Nanos> flight_sent;
    ASSERT_TRUE(transfer([&](const WireSegment& s) {
        if (marked(s))
            flight_sent = s.sent_at;
        const bool pure_ack = !s.from_a && s.payload == 0 && !s.tcp.has(wire::tcp_flag::kSyn) &&
                              !s.tcp.has(wire::tcp_flag::kFin);
        // Every ACK the server sends as that flight arrives.
        if (pure_ack && flight_sent && s.sent_at == *flight_sent + kOneWay)
            return Fate::Drop;
        return Fate::Deliver;
    }));
    ASSERT_TRUE(flight_sent.has_value());
    EXPECT_GT(wire_->dropped(), 0U);
    EXPECT_EQ(client().tcp_tail_loss_probes, 1U);
    EXPECT_EQ(client().tcp_timeouts, 0U);
    // The probe is the client's first segment after that flight; the server's answer leaves the
    // moment the probe arrives.
    std::optional<Nanos> probe_sent;
    std::optional<Nanos> answer_sent;
    for (const WireSegment& s : wire_->log()) {
        if (s.sent_at <= *flight_sent + kOneWay)
            continue;
        if (s.from_a && !probe_sent)
            probe_sent = s.sent_at;
        else if (!s.from_a && probe_sent && !answer_sent)
            answer_sent = s.sent_at;
    }
    ASSERT_TRUE(probe_sent.has_value());
    ASSERT_TRUE(answer_sent.has_value());
    EXPECT_EQ(*answer_sent - *probe_sent, kOneWay) << "the answer left as the probe arrived";
}

TEST_F(TcpCore, ADuplicatedSegmentIsDsackedAndCostsNoRetransmission) {
    const auto twin = carrying(5 * 1460);
    ASSERT_TRUE(
        transfer([&](const WireSegment& s) { return twin(s) ? Fate::Duplicate : Fate::Deliver; }));
    EXPECT_EQ(server().tcp_dsack_sent, 1U);  // RFC 2883: the duplicate is reported
    EXPECT_EQ(client().tcp_dsack_received, 1U);
    EXPECT_EQ(client().tcp_retransmitted_segments, 0U);
}

TEST_F(TcpCore, ASegmentOvertakenByTwoIsNotResent) {
    // Fewer than DupThresh (RFC 5681 3.2: three) duplicate ACKs, and the hole fills within the
    // reordering window: nothing is resent and the window is not cut.
    const auto late = carrying(8 * 1460);
    ASSERT_TRUE(
        transfer([&](const WireSegment& s) { return late(s) ? Fate::Hold : Fate::Deliver; }));
    EXPECT_GT(server().tcp_out_of_order_segments, 0U);
    EXPECT_EQ(client().tcp_retransmitted_segments, 0U);
    EXPECT_EQ(client().tcp_recoveries, 0U);
}

}  // namespace
}  // namespace sluice::test
