// Every transition of RFC 9293's state diagram (3.3.2, figure 5), driven segment by segment with a
// manual clock: passive and active open, simultaneous open and close, both closes, half-close,
// TIME-WAIT's 2 MSL, and RST in each state.
#include <gtest/gtest.h>

#include "dataplane/tcp/isn.hpp"
#include "tests/support/tcp_fixture.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using namespace wire::tcp_flag;
using tcp::TcpState;

class TcpTransitions : public TcpFixture {
  protected:
    TcpState state_of(api::Connection c) {
        auto i = c.info();
        EXPECT_TRUE(i.has_value());
        return i.has_value() ? i->state : TcpState::Closed;
    }
};

TEST_F(TcpTransitions, PassiveOpenListenSynReceivedEstablished) {
    inject(Seg{.flags = kSyn, .seq = peer_seq});
    const Sent synack = expect_one();
    EXPECT_TRUE(synack.has(kSyn) && synack.has(kAck));
    EXPECT_EQ(synack.ack(), peer_seq + 1);
    EXPECT_EQ(stack().connections_in(TcpState::SynReceived), 1u);
    EXPECT_FALSE(handler_.saw("accept")) << "the application sees only established connections";

    inject(Seg{.seq = peer_seq + 1, .ack = synack.seq() + 1});
    expect_none();
    EXPECT_EQ(stack().connections_in(TcpState::Established), 1u);
    EXPECT_EQ(handler_.events, (std::vector<std::string>{"accept", "connected"}));
}

TEST_F(TcpTransitions, ActiveOpenSynSentEstablished) {
    auto c = stack().connect(kPeerIp, kServerPort, &handler_);
    ASSERT_TRUE(c.has_value());
    const Sent syn = expect_one();
    EXPECT_TRUE(syn.has(kSyn));
    EXPECT_FALSE(syn.has(kAck));
    EXPECT_GE(syn.tcp.source_port, 49152) << "the local port is ephemeral";
    EXPECT_EQ(state_of(*c), TcpState::SynSent);
    // An active open offers every option (RFC 9293 3.7.1, RFC 7323, RFC 2018).
    EXPECT_TRUE(syn.tcp.options.mss.has_value());
    EXPECT_TRUE(syn.tcp.options.window_scale.has_value());
    EXPECT_TRUE(syn.tcp.options.timestamps.has_value());
    EXPECT_TRUE(syn.tcp.options.sack_permitted);

    inject(Seg{.flags = kSyn | kAck,
               .seq = 5000,
               .ack = syn.seq() + 1,
               .source_port = kServerPort,
               .destination_port = syn.tcp.source_port});
    const Sent ack = expect_one();
    EXPECT_TRUE(ack.has(kAck));
    EXPECT_EQ(ack.ack(), 5001u);
    EXPECT_EQ(state_of(*c), TcpState::Established);
    EXPECT_TRUE(handler_.saw("connected"));
}

TEST_F(TcpTransitions, SimultaneousOpen) {
    auto c = stack().connect(kPeerIp, kServerPort, &handler_);
    ASSERT_TRUE(c.has_value());
    const Sent syn = expect_one();
    // The peer's own SYN crosses ours (RFC 9293 figure 8).
    inject(Seg{.flags = kSyn,
               .seq = 7000,
               .source_port = kServerPort,
               .destination_port = syn.tcp.source_port});
    const Sent synack = expect_one();
    EXPECT_TRUE(synack.has(kSyn) && synack.has(kAck));
    EXPECT_EQ(synack.seq(), syn.seq()) << "the same ISS";
    EXPECT_EQ(synack.ack(), 7001u);
    EXPECT_EQ(state_of(*c), TcpState::SynReceived);
    // Then the peer's SYN-ACK acknowledges our SYN.
    inject(Seg{.flags = kSyn | kAck,
               .seq = 7000,
               .ack = syn.seq() + 1,
               .source_port = kServerPort,
               .destination_port = syn.tcp.source_port});
    take();
    inject(Seg{.seq = 7001,
               .ack = syn.seq() + 1,
               .source_port = kServerPort,
               .destination_port = syn.tcp.source_port});
    EXPECT_EQ(state_of(*c), TcpState::Established);
}

TEST_F(TcpTransitions, ActiveCloseThroughFinWaitToTimeWaitForExactlyTwoMsl) {
    auto c = establish_passive();
    ASSERT_TRUE(c.close().ok());
    const Sent fin = expect_one();
    EXPECT_TRUE(fin.has(kFin) && fin.has(kAck));
    EXPECT_EQ(fin.seq(), our_seq);
    EXPECT_EQ(state_of(c), TcpState::FinWait1);

    inject(Seg{.seq = peer_seq, .ack = our_seq + 1});
    expect_none();
    EXPECT_EQ(state_of(c), TcpState::FinWait2);

    inject(Seg{.flags = kFin | kAck, .seq = peer_seq, .ack = our_seq + 1});
    const Sent last = expect_one();
    EXPECT_EQ(last.ack(), peer_seq + 1);
    EXPECT_EQ(stack().connections_in(TcpState::TimeWait), 1u);
    EXPECT_TRUE(handler_.saw("closed:closed")) << "the application is done at TIME-WAIT";
    EXPECT_FALSE(c.valid());

    advance(2 * config_.msl - 1ms);
    EXPECT_EQ(stack().connections_in(TcpState::TimeWait), 1u) << "TIME-WAIT ended early";
    advance(1ms);
    EXPECT_EQ(stack().connection_count(), 0u) << "TIME-WAIT must end at exactly 2 MSL";
}

TEST_F(TcpTransitions, RetransmittedFinInTimeWaitIsAckedAndRestartsTheWait) {
    auto c = establish_passive();
    ASSERT_TRUE(c.close().ok());
    take();
    inject(Seg{.flags = kFin | kAck, .seq = peer_seq, .ack = our_seq + 1});
    take();
    advance(config_.msl);
    inject(Seg{.flags = kFin | kAck, .seq = peer_seq, .ack = our_seq + 1});
    EXPECT_EQ(expect_one().ack(), peer_seq + 1);
    advance(2 * config_.msl - 1ms);
    EXPECT_EQ(stack().connections_in(TcpState::TimeWait), 1u);
    advance(1ms);
    EXPECT_EQ(stack().connection_count(), 0u);
}

TEST_F(TcpTransitions, PassiveCloseThroughCloseWaitAndLastAck) {
    auto c = establish_passive();
    inject(Seg{.flags = kFin | kAck, .seq = peer_seq, .ack = our_seq});
    EXPECT_EQ(expect_one().ack(), peer_seq + 1);
    EXPECT_EQ(state_of(c), TcpState::CloseWait);
    EXPECT_TRUE(handler_.saw("peer_closed"));

    ASSERT_TRUE(c.close().ok());
    const Sent fin = expect_one();
    EXPECT_TRUE(fin.has(kFin));
    EXPECT_EQ(state_of(c), TcpState::LastAck);

    inject(Seg{.seq = peer_seq + 1, .ack = our_seq + 1});
    EXPECT_EQ(stack().connection_count(), 0u);
    EXPECT_TRUE(handler_.saw("closed:closed"));
}

TEST_F(TcpTransitions, SimultaneousCloseThroughClosing) {
    auto c = establish_passive();
    ASSERT_TRUE(c.close().ok());
    const Sent fin = expect_one();
    // The peer's FIN crosses ours and does not acknowledge it.
    inject(Seg{.flags = kFin | kAck, .seq = peer_seq, .ack = our_seq});
    EXPECT_EQ(expect_one().ack(), peer_seq + 1);
    EXPECT_EQ(state_of(c), TcpState::Closing);
    inject(Seg{.seq = peer_seq + 1, .ack = fin.seq() + 1});
    EXPECT_EQ(stack().connections_in(TcpState::TimeWait), 1u);
}

TEST_F(TcpTransitions, FinWait1StraightToTimeWaitWhenFinAndAckArriveTogether) {
    auto c = establish_passive();
    ASSERT_TRUE(c.close().ok());
    take();
    inject(Seg{.flags = kFin | kAck, .seq = peer_seq, .ack = our_seq + 1});
    EXPECT_EQ(expect_one().ack(), peer_seq + 1);
    EXPECT_EQ(stack().connections_in(TcpState::TimeWait), 1u);
}

TEST_F(TcpTransitions, HalfCloseByThePeerLetsUsKeepSending) {
    auto c = establish_passive();
    inject(Seg{.flags = kFin | kAck, .seq = peer_seq, .ack = our_seq});
    take();
    ASSERT_TRUE(c.send(bytes("still talking")).has_value());
    const Sent data = expect_one();
    EXPECT_EQ(data.payload, bytes("still talking"));
    EXPECT_EQ(state_of(c), TcpState::CloseWait);
}

TEST_F(TcpTransitions, HalfCloseByUsLetsThePeerKeepSending) {
    auto c = establish_passive();
    ASSERT_TRUE(c.shutdown_write().ok());
    const Sent fin = expect_one();
    EXPECT_TRUE(fin.has(kFin));
    EXPECT_EQ(c.send(bytes("x")).error(), EPIPE);
    inject(Seg{.seq = peer_seq, .ack = our_seq + 1, .payload = bytes("more from the peer")});
    EXPECT_EQ(handler_.received, bytes("more from the peer"));
    EXPECT_EQ(state_of(c), TcpState::FinWait2);
}

TEST_F(TcpTransitions, ClosingInSynSentForgetsTheAttempt) {
    auto c = stack().connect(kPeerIp, kServerPort, &handler_);
    ASSERT_TRUE(c.has_value());
    take();
    ASSERT_TRUE(c->close().ok());
    expect_none();
    EXPECT_EQ(stack().connection_count(), 0u);
}

// --- RST in every state (RFC 9293 3.10.7, RFC 5961 3) ---

TEST_F(TcpTransitions, RstInSynSentWithAcceptableAckRefuses) {
    auto c = stack().connect(kPeerIp, kServerPort, &handler_);
    const Sent syn = expect_one();
    inject(Seg{.flags = kRst | kAck,
               .seq = 0,
               .ack = syn.seq() + 1,
               .source_port = kServerPort,
               .destination_port = syn.tcp.source_port});
    EXPECT_TRUE(handler_.saw("closed:refused"));
    EXPECT_EQ(stack().connection_count(), 0u);
    (void)c;
}

TEST_F(TcpTransitions, RstInSynSentWithoutAcceptableAckIsIgnored) {
    auto c = stack().connect(kPeerIp, kServerPort, &handler_);
    const Sent syn = expect_one();
    inject(Seg{.flags = kRst,
               .seq = 0,
               .source_port = kServerPort,
               .destination_port = syn.tcp.source_port});
    EXPECT_EQ(stack().connection_count(), 1u);
    EXPECT_TRUE(c->valid());
}

TEST_F(TcpTransitions, RstInSynReceivedReturnsToListenSilently) {
    inject(Seg{.flags = kSyn, .seq = peer_seq});
    take();
    inject(Seg{.flags = kRst, .seq = peer_seq + 1});
    expect_none();
    EXPECT_EQ(stack().connection_count(), 0u);
    EXPECT_TRUE(handler_.events.empty());
}

TEST_F(TcpTransitions, RstResetsEstablishedFinWaitAndCloseWait) {
    for (const TcpState target :
         {TcpState::Established, TcpState::FinWait1, TcpState::FinWait2, TcpState::CloseWait}) {
        handler_.events.clear();
        peer_port = static_cast<std::uint16_t>(peer_port + 1);
        auto c = establish_passive();
        if (target == TcpState::FinWait1 || target == TcpState::FinWait2) {
            ASSERT_TRUE(c.shutdown_write().ok());
            take();
            if (target == TcpState::FinWait2)
                inject(Seg{.seq = peer_seq, .ack = our_seq + 1, .source_port = peer_port});
        } else if (target == TcpState::CloseWait) {
            inject(Seg{
                .flags = kFin | kAck, .seq = peer_seq, .ack = our_seq, .source_port = peer_port});
            take();
            peer_seq += 1;
        }
        ASSERT_EQ(state_of(c), target);
        inject(Seg{.flags = kRst, .seq = peer_seq, .source_port = peer_port});
        EXPECT_TRUE(handler_.saw("closed:reset")) << tcp::state_name(target);
        EXPECT_FALSE(c.valid());
    }
}

TEST_F(TcpTransitions, RstInLastAckClosesInOrder) {
    auto c = establish_passive();
    inject(Seg{.flags = kFin | kAck, .seq = peer_seq, .ack = our_seq});
    take();
    ASSERT_TRUE(c.close().ok());
    take();
    inject(Seg{.flags = kRst, .seq = peer_seq + 1});
    EXPECT_TRUE(handler_.saw("closed:closed"));
    EXPECT_EQ(stack().connection_count(), 0u);
}

TEST_F(TcpTransitions, RstInTimeWaitIsIgnoredPerRfc1337) {
    auto c = establish_passive();
    ASSERT_TRUE(c.close().ok());
    take();
    inject(Seg{.flags = kFin | kAck, .seq = peer_seq, .ack = our_seq + 1});
    take();
    inject(Seg{.flags = kRst, .seq = peer_seq + 1});
    EXPECT_EQ(stack().connections_in(TcpState::TimeWait), 1u) << "TIME-WAIT assassinated";
}

TEST_F(TcpTransitions, AbortSendsRstAndForgets) {
    auto c = establish_passive();
    c.abort();
    const Sent rst = expect_one();
    EXPECT_TRUE(rst.has(kRst));
    EXPECT_EQ(rst.seq(), our_seq);
    EXPECT_TRUE(handler_.saw("closed:aborted"));
    EXPECT_EQ(stack().connection_count(), 0u);
}

TEST_F(TcpTransitions, ClosingWithUnreadDataResets) {
    handler_.read_on_readable = false;
    auto c = establish_passive();
    inject(Seg{.seq = peer_seq, .ack = our_seq, .payload = bytes("unread")});
    take();
    ASSERT_TRUE(c.close().ok());
    EXPECT_TRUE(expect_one().has(kRst)) << "RFC 2525 2.17: the peer must learn its data was lost";
}

// --- segments for no connection (RFC 9293 3.10.7.1) ---

TEST_F(TcpTransitions, SynToClosedPortGetsRstAck) {
    inject(Seg{.flags = kSyn, .seq = 4242, .destination_port = 81});
    const Sent rst = expect_one();
    EXPECT_TRUE(rst.has(kRst) && rst.has(kAck));
    EXPECT_EQ(rst.seq(), 0u);
    EXPECT_EQ(rst.ack(), 4243u);
    EXPECT_EQ(counters_.tcp_resets_sent, 1u);
}

TEST_F(TcpTransitions, AckToClosedPortGetsRstAtItsAckNumber) {
    inject(Seg{.seq = 4242, .ack = 777, .destination_port = 81});
    const Sent rst = expect_one();
    EXPECT_TRUE(rst.has(kRst));
    EXPECT_FALSE(rst.has(kAck));
    EXPECT_EQ(rst.seq(), 777u);
}

TEST_F(TcpTransitions, RstToClosedPortGetsNothing) {
    inject(Seg{.flags = kRst, .seq = 4242, .destination_port = 81});
    expect_none();
}

TEST_F(TcpTransitions, AckToListenerGetsRst) {
    inject(Seg{.seq = 4242, .ack = 999});
    const Sent rst = expect_one();
    EXPECT_TRUE(rst.has(kRst));
    EXPECT_EQ(rst.seq(), 999u);
}

TEST_F(TcpTransitions, RefusedAcceptIsReset) {
    handler_.refuse = true;
    inject(Seg{.flags = kSyn, .seq = peer_seq});
    const Sent synack = expect_one();
    inject(Seg{.seq = peer_seq + 1, .ack = synack.seq() + 1});
    EXPECT_TRUE(expect_one().has(kRst));
    EXPECT_EQ(stack().connection_count(), 0u);
}

TEST_F(TcpTransitions, NewSynReusesTimeWaitWhenItsSequenceIsHigher) {
    auto c = establish_passive();
    ASSERT_TRUE(c.close().ok());
    take();
    inject(Seg{.flags = kFin | kAck, .seq = peer_seq, .ack = our_seq + 1});
    take();
    ASSERT_EQ(stack().connections_in(TcpState::TimeWait), 1u);
    inject(Seg{.flags = kSyn, .seq = peer_seq + 100000});
    const Sent synack = expect_one();
    EXPECT_TRUE(synack.has(kSyn) && synack.has(kAck)) << "RFC 6191: a new incarnation may start";
    EXPECT_EQ(stack().connections_in(TcpState::SynReceived), 1u);
}

// RFC 6191 2, both incarnations with timestamps: the SYN may start a new incarnation when its
// timestamp is newer than the last one seen, or the same and its sequence number higher.
class TcpTimeWaitReuse : public TcpTransitions {
  protected:
    static constexpr std::uint32_t kLastTsval = 5000;

    // An accepted connection with timestamps, closed by us first and then by the peer, whose
    // FIN carried kLastTsval: TIME-WAIT with that as TS.Recent.
    void enter_time_wait() {
        wire::TcpOptions syn_options;
        syn_options.timestamps = wire::TcpTimestamps{4000, 0};
        auto c = establish_passive(syn_options);
        ASSERT_TRUE(c.close().ok());
        const Sent fin = expect_one();
        ASSERT_TRUE(fin.has(kFin));
        ASSERT_TRUE(fin.tcp.options.timestamps.has_value());
        Seg peer_fin{.flags = kFin | kAck, .seq = peer_seq, .ack = our_seq + 1};
        peer_fin.options.timestamps =
            wire::TcpTimestamps{kLastTsval, fin.tcp.options.timestamps->value};
        inject(peer_fin);
        take();
        ASSERT_EQ(stack().connections_in(TcpState::TimeWait), 1u);
    }
    Seg syn(std::uint32_t seq, std::uint32_t tsval) const {
        Seg s{.flags = kSyn, .seq = seq};
        s.options.timestamps = wire::TcpTimestamps{tsval, 0};
        return s;
    }
};

TEST_F(TcpTimeWaitReuse, ANewerTimestampStartsANewIncarnationWhateverItsSequence) {
    enter_time_wait();
    inject(syn(peer_seq - 100000, kLastTsval + 1));
    const Sent synack = expect_one();
    EXPECT_TRUE(synack.has(kSyn) && synack.has(kAck));
    EXPECT_EQ(stack().connections_in(TcpState::SynReceived), 1u);
}

TEST_F(TcpTimeWaitReuse, TheSameTimestampAndAHigherSequenceStartAnIncarnation) {
    enter_time_wait();
    inject(syn(peer_seq + 100000, kLastTsval));
    const Sent synack = expect_one();
    EXPECT_TRUE(synack.has(kSyn) && synack.has(kAck)) << "RFC 6191 2, second case";
    EXPECT_EQ(stack().connections_in(TcpState::SynReceived), 1u);
}

TEST_F(TcpTimeWaitReuse, TheSameTimestampAndALowerSequenceLeaveTimeWaitAlone) {
    enter_time_wait();
    inject(syn(peer_seq - 100000, kLastTsval));
    const Sent answer = expect_one();
    EXPECT_FALSE(answer.has(kSyn)) << "an old duplicate: a challenge ACK, no new connection";
    EXPECT_TRUE(answer.has(kAck));
    EXPECT_EQ(stack().connections_in(TcpState::TimeWait), 1u);
    EXPECT_EQ(stack().connections_in(TcpState::SynReceived), 0u);
}

TEST_F(TcpTimeWaitReuse, AnOlderTimestampAcrossTheWrapIsStillOlder) {
    enter_time_wait();
    // 2^31 - 1 ahead of 5000 is newer; 2^31 + 1 ahead is, modulo 2^32, behind (RFC 7323 5.2).
    inject(syn(peer_seq + 100000, kLastTsval + 0x80000001u));
    EXPECT_FALSE(expect_one().has(kSyn));
    EXPECT_EQ(stack().connections_in(TcpState::TimeWait), 1u);
}

// RFC 6528's M, at 64 ns (isn.cpp): a tuple reused 5 us after its last connection began starts
// above the 66 sequence numbers a 64-byte request, its SYN and its FIN took.
TEST(IsnClock, ATupleReusedMicrosecondsLaterStartsAboveTheLastExchange) {
    const tcp::IsnGenerator isn;
    const auto tuple = flow::FourTuple::make(kEngineIp, kServerPort, kPeerIp, 40000);
    const Nanos t0 = std::chrono::seconds(1000);
    const tcp::SeqNum first = isn.generate(tuple, t0);
    EXPECT_EQ(isn.generate(tuple, t0 + std::chrono::nanoseconds(64)), first + 1);
    EXPECT_GT(isn.generate(tuple, t0 + std::chrono::microseconds(5)), first + 66);
}

}  // namespace
}  // namespace sluice::test
