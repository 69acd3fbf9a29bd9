// TCP behaviour beyond the state diagram, segment by segment with a manual clock: RFC 5961's blind
// attack defences, PAWS (RFC 7323 5), window scaling (RFC 7323 2), the MSS (RFC 9293 3.7.1),
// sequence numbers across 2^32, zero windows and persist probes (RFC 9293 3.8.6.1), the
// retransmission timer (RFC 6298, Karn's rule), delayed ACKs (RFC 9293 3.8.6.3, RFC 5681 4.2),
// Nagle (RFC 9293 3.7.4), keepalive (RFC 9293 3.8.4), the receive window, the listen backlog.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "dataplane/flow/rss_model.hpp"
#include "tests/support/tcp_fixture.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using namespace wire::tcp_flag;
using tcp::TcpState;

wire::TcpOptions mss_option(std::uint16_t mss) {
    wire::TcpOptions o;
    o.mss = mss;
    return o;
}

std::size_t largest_payload(const std::vector<Sent>& segments) {
    std::size_t largest = 0;
    for (const Sent& s : segments)
        largest = std::max(largest, s.payload.size());
    return largest;
}

std::size_t payload_bytes(const std::vector<Sent>& segments) {
    std::size_t n = 0;
    for (const Sent& s : segments)
        n += s.payload.size();
    return n;
}

class TcpBehaviour : public TcpFixture {
  protected:
    api::ConnectionInfo info_of(api::Connection c) {
        auto i = c.info();
        EXPECT_TRUE(i.has_value());
        return i.has_value() ? *i : api::ConnectionInfo{};
    }

    // establish_passive, but keeps the SYN-ACK for the test to look at.
    api::Connection accept_with(const wire::TcpOptions& syn_options, Sent& synack,
                                std::uint16_t syn_window = 65535,
                                std::uint16_t ack_window = 65535) {
        inject(Seg{.flags = kSyn,
                   .seq = peer_seq,
                   .window = syn_window,
                   .options = syn_options,
                   .source_port = peer_port});
        synack = expect_one();
        EXPECT_TRUE(synack.has(kSyn) && synack.has(kAck));
        EXPECT_EQ(synack.ack(), peer_seq + 1);
        peer_seq += 1;
        our_seq = synack.seq() + 1;
        inject(
            Seg{.seq = peer_seq, .ack = our_seq, .window = ack_window, .source_port = peer_port});
        expect_none();
        EXPECT_TRUE(handler_.saw("connected"));
        return handler_.accepted.empty() ? api::Connection{} : handler_.accepted.back();
    }

    // Data from the peer at its next sequence number, acknowledging everything we sent.
    void peer_sends(const std::vector<std::byte>& payload) {
        inject(Seg{.seq = peer_seq, .ack = our_seq, .payload = payload, .source_port = peer_port});
        peer_seq += static_cast<std::uint32_t>(payload.size());
    }

    void peer_acks(std::uint32_t ack, std::uint16_t window = 65535) {
        inject(Seg{.seq = peer_seq, .ack = ack, .window = window, .source_port = peer_port});
    }

    // `count` in-order segments of `size` bytes from peer_seq on (pattern() bytes), for one burst;
    // peer_seq is not moved.
    std::vector<Seg> peer_segments(std::size_t count, std::size_t size) const {
        std::vector<Seg> burst;
        for (std::size_t i = 0; i < count; ++i) {
            burst.push_back(Seg{.seq = peer_seq + static_cast<std::uint32_t>(i * size),
                                .ack = our_seq,
                                .payload = pattern(size, i * size),
                                .source_port = peer_port});
        }
        return burst;
    }

    // Bytes [offset, offset + length) of `data`.
    static std::vector<std::byte> slice(const std::vector<std::byte>& data, std::size_t offset,
                                        std::size_t length) {
        return {data.begin() + static_cast<std::ptrdiff_t>(offset),
                data.begin() + static_cast<std::ptrdiff_t>(offset + length)};
    }

    // Moves the clock a millisecond at a time until the engine sends something (returned), or
    // `limit` passes (nothing returned).
    std::vector<Sent> wait_for_output(Nanos limit) {
        const Nanos end = clock_.now() + limit;
        while (clock_.now() < end) {
            advance(1ms);
            auto out = take();
            if (!out.empty())
                return out;
        }
        return {};
    }

    // The engine sends `expected` (already queued) from our_seq on, the peer acknowledging each
    // burst; returns every data segment and moves our_seq past the data.
    std::vector<Sent> drain(std::size_t expected) {
        std::vector<Sent> data;
        std::size_t got = 0;
        for (int round = 0; round < 1000 && got < expected; ++round) {
            std::size_t burst = 0;
            for (Sent& s : take()) {
                if (s.payload.empty())
                    continue;
                EXPECT_EQ(s.seq(), our_seq + static_cast<std::uint32_t>(got + burst));
                burst += s.payload.size();
                data.push_back(std::move(s));
            }
            if (burst == 0)
                break;
            got += burst;
            peer_acks(our_seq + static_cast<std::uint32_t>(got));
        }
        EXPECT_EQ(got, expected);
        our_seq += static_cast<std::uint32_t>(got);
        return data;
    }

    // Data from the peer at its next sequence number, with a timestamp of `tsval` (RFC 7323).
    Seg with_ts(std::uint32_t tsval, std::string_view text) const {
        Seg s{.seq = peer_seq, .ack = our_seq, .payload = bytes(text)};
        s.options.timestamps = wire::TcpTimestamps{tsval, 0};
        return s;
    }

    static std::vector<std::byte> joined(const std::vector<Sent>& segments) {
        std::vector<std::byte> out;
        for (const Sent& s : segments)
            out.insert(out.end(), s.payload.begin(), s.payload.end());
        return out;
    }
};

// --- RFC 5961: blind reset, SYN and data injection ---

TEST_F(TcpBehaviour, RstAtExactlyRcvNxtResets) {
    auto c = establish_passive();
    inject(Seg{.flags = kRst, .seq = peer_seq});
    expect_none();
    EXPECT_TRUE(handler_.saw("closed:reset"));
    EXPECT_FALSE(c.valid());
    EXPECT_EQ(counters_.tcp_challenge_acks, 0u);
}

TEST_F(TcpBehaviour, RstInWindowButNotExactGetsChallengeAck) {
    auto c = establish_passive();
    // The SYN-ACK offered 65535 bytes (receive buffer 64 KiB, no scaling): the window is
    // [peer_seq, peer_seq + 65535).
    int n = 0;
    for (const std::uint32_t offset : {1u, 1000u, 65534u}) {
        inject(Seg{.flags = kRst, .seq = peer_seq + offset});
        const Sent ack = expect_one();
        EXPECT_TRUE(ack.has(kAck)) << offset;
        EXPECT_FALSE(ack.has(kRst)) << offset;
        EXPECT_EQ(ack.ack(), peer_seq) << "RFC 5961 3.2: a challenge ACK carries RCV.NXT";
        EXPECT_EQ(ack.seq(), our_seq);
        EXPECT_TRUE(ack.payload.empty());
        EXPECT_EQ(counters_.tcp_challenge_acks, static_cast<std::uint64_t>(++n));
    }
    EXPECT_TRUE(c.valid());
    EXPECT_EQ(info_of(c).state, TcpState::Established);
    EXPECT_EQ(handler_.events, (std::vector<std::string>{"accept", "connected"}));
    // It still works both ways.
    peer_sends(bytes("still here"));
    EXPECT_EQ(handler_.received, bytes("still here"));
    ASSERT_TRUE(c.send(bytes("me too")).has_value());
    EXPECT_EQ(expect_one().payload, bytes("me too"));
}

TEST_F(TcpBehaviour, RstOutsideTheWindowIsIgnoredSilently) {
    auto c = establish_passive();
    for (const std::uint32_t seq :
         {peer_seq + 65535, peer_seq + 200000, peer_seq - 1, peer_seq - 70000}) {
        inject(Seg{.flags = kRst, .seq = seq});
        expect_none();
    }
    EXPECT_TRUE(c.valid());
    EXPECT_EQ(info_of(c).state, TcpState::Established);
    EXPECT_EQ(counters_.tcp_challenge_acks, 0u);
    EXPECT_EQ(counters_.tcp_resets_received, 0u);
    EXPECT_EQ(counters_.dropped(DropReason::TcpNotAcceptable), 4u);
}

TEST_F(TcpBehaviour, SynOnEstablishedConnectionGetsChallengeAck) {
    auto c = establish_passive();
    for (const std::uint32_t seq : {peer_seq, peer_seq + 5000}) {
        inject(Seg{.flags = kSyn, .seq = seq});
        const Sent ack = expect_one();
        EXPECT_TRUE(ack.has(kAck));
        EXPECT_FALSE(ack.has(kRst)) << "RFC 5961 4.2: no RST in answer to a SYN any more";
        EXPECT_FALSE(ack.has(kSyn));
        EXPECT_EQ(ack.ack(), peer_seq);
        EXPECT_EQ(ack.seq(), our_seq);
    }
    EXPECT_EQ(counters_.tcp_challenge_acks, 2u);
    EXPECT_EQ(counters_.tcp_resets_sent, 0u);
    EXPECT_TRUE(c.valid());
    EXPECT_EQ(info_of(c).state, TcpState::Established);
    EXPECT_EQ(stack().connection_count(), 1u);
    peer_sends(bytes("after the SYN"));
    EXPECT_EQ(handler_.received, bytes("after the SYN"));
}

TEST_F(TcpBehaviour, AckBeyondSndMaxIsDroppedAndAcked) {
    auto c = establish_passive(mss_option(1460));
    ASSERT_TRUE(c.send(pattern(100)).has_value());
    const Sent data = expect_one();
    ASSERT_EQ(data.payload.size(), 100u);
    // Acknowledges 900 bytes never sent, and carries data of its own.
    inject(Seg{.seq = peer_seq, .ack = our_seq + 1000, .payload = bytes("injected")});
    const Sent ack = expect_one();
    EXPECT_TRUE(ack.has(kAck));
    EXPECT_EQ(ack.ack(), peer_seq) << "the segment's data must not be taken";
    EXPECT_EQ(ack.seq(), our_seq + 100);
    EXPECT_TRUE(ack.payload.empty());
    EXPECT_TRUE(handler_.received.empty());
    EXPECT_EQ(counters_.dropped(DropReason::TcpBadAck), 1u);
    const auto i = info_of(c);
    EXPECT_EQ(i.bytes_in_flight, 100u) << "SND.UNA must not move";
    EXPECT_EQ(i.send_queue_bytes, 100u);
    // The proper ACK still works.
    peer_acks(our_seq + 100);
    expect_none();
    EXPECT_EQ(info_of(c).bytes_in_flight, 0u);
    EXPECT_EQ(info_of(c).send_queue_bytes, 0u);
}

TEST_F(TcpBehaviour, ChallengeAcksAreRateLimitedPerSecond) {
    config_.challenge_ack_limit = 3;
    start(config_);
    auto c = establish_passive();
    for (std::uint32_t i = 0; i < 10; ++i)
        inject(Seg{.flags = kRst, .seq = peer_seq + 1 + i});
    const auto out = take();
    ASSERT_EQ(out.size(), 3u);
    for (const Sent& s : out)
        EXPECT_EQ(s.ack(), peer_seq);
    EXPECT_EQ(counters_.tcp_challenge_acks, 3u);
    EXPECT_EQ(counters_.tcp_challenge_acks_suppressed, 7u);
    advance(999ms);
    inject(Seg{.flags = kRst, .seq = peer_seq + 1});
    expect_none();
    advance(1ms);
    inject(Seg{.flags = kRst, .seq = peer_seq + 1});
    EXPECT_EQ(expect_one().ack(), peer_seq) << "a new second, a new budget";
    EXPECT_EQ(counters_.tcp_challenge_acks, 4u);
    EXPECT_TRUE(c.valid());
}

// --- PAWS (RFC 7323 5) ---

TEST_F(TcpBehaviour, PawsDropsAnOlderTimestampAndTakesANewerOne) {
    wire::TcpOptions ts;
    ts.timestamps = wire::TcpTimestamps{100, 0};
    auto c = establish_passive(ts);
    inject(with_ts(200, "fresh"));
    peer_seq += 5;
    EXPECT_EQ(handler_.received, bytes("fresh"));
    advance(config_.delayed_ack);
    take();

    // An old duplicate from an earlier wrap: new sequence numbers, older timestamp.
    inject(with_ts(150, "stale"));
    const Sent ack = expect_one();
    EXPECT_EQ(ack.ack(), peer_seq) << "dropped, and acknowledged";
    ASSERT_TRUE(ack.tcp.options.timestamps.has_value());
    EXPECT_EQ(ack.tcp.options.timestamps->echo_reply, 200u) << "TS.Recent is not taken from it";
    EXPECT_EQ(handler_.received, bytes("fresh"));
    EXPECT_EQ(counters_.dropped(DropReason::TcpPaws), 1u);

    inject(with_ts(201, "newer"));
    peer_seq += 5;
    EXPECT_EQ(handler_.received, bytes("freshnewer"));
    EXPECT_EQ(counters_.dropped(DropReason::TcpPaws), 1u);
    (void)c;
}

// One tick of the peer's clock is forgiven (Linux's TCP_PAWS_WINDOW): a segment held back behind
// a retransmission that refreshed TS.Recent still counts, and so does the ACK it carries. Two
// ticks are not.
TEST_F(TcpBehaviour, PawsForgivesOneTickAndNoMore) {
    wire::TcpOptions ts;
    ts.timestamps = wire::TcpTimestamps{100, 0};
    auto c = establish_passive(ts);
    inject(with_ts(200, "first"));
    peer_seq += 5;
    inject(with_ts(199, "late!"));
    peer_seq += 5;
    EXPECT_EQ(handler_.received, bytes("first"
                                       "late!"))
        << "one tick behind: taken";
    EXPECT_EQ(counters_.dropped(DropReason::TcpPaws), 0u);
    inject(with_ts(198, "stale"));
    EXPECT_EQ(handler_.received, bytes("first"
                                       "late!"))
        << "two ticks behind: dropped";
    EXPECT_EQ(counters_.dropped(DropReason::TcpPaws), 1u);
    (void)c;
}

// --- window scale (RFC 7323 2) ---

TEST_F(TcpBehaviour, PeerWindowScaleAbove14IsTakenAs14) {
    wire::TcpOptions o = mss_option(1024);
    o.window_scale = 15;
    Sent synack;
    auto c = accept_with(o, synack);
    // Our SYN-ACK offers our own shift, and its window is not scaled (RFC 7323 2.2).
    ASSERT_TRUE(synack.tcp.options.window_scale.has_value());
    const std::uint8_t our_shift = *synack.tcp.options.window_scale;
    EXPECT_GE(our_shift, 1u) << "a 64 KiB buffer needs a shift";
    EXPECT_EQ(synack.tcp.window, 65535u);

    // Grow the congestion window past 16 KiB first: ten segments, each acknowledged alone.
    ASSERT_TRUE(c.send(pattern(10 * 1024)).has_value());
    const auto first = take();
    ASSERT_EQ(payload_bytes(first), 10u * 1024);
    for (const Sent& s : first) {
        // Our later windows are scaled by our shift: the whole buffer is offered.
        EXPECT_EQ(std::uint32_t{s.tcp.window} << our_shift, config_.receive_buffer);
    }
    for (std::uint32_t i = 1; i <= 10; ++i) {
        peer_acks(our_seq + i * 1024, i == 10 ? 1 : 65535);
    }
    our_seq += 10 * 1024;
    expect_none();
    ASSERT_GE(info_of(c).cwnd, 16384u);
    EXPECT_EQ(info_of(c).send_window, 1u << 14);

    // A window field of 1 is 1 << 14 bytes: exactly that much goes out, in whole segments.
    ASSERT_TRUE(c.send(pattern(40000)).has_value());
    auto burst = take();
    EXPECT_EQ(payload_bytes(burst), 16384u);
    for (const Sent& s : burst)
        EXPECT_LE(s.payload.size(), 1024u);
    peer_acks(our_seq + 16384, 1);
    our_seq += 16384;
    burst = take();
    EXPECT_EQ(payload_bytes(burst), 16384u);
    EXPECT_EQ(burst.front().seq(), our_seq);
}

TEST_F(TcpBehaviour, NoWindowScalingWithoutThePeersOption) {
    Sent synack;
    auto c = accept_with(mss_option(1024), synack, 65535, /*ack_window=*/2048);
    EXPECT_FALSE(synack.tcp.options.window_scale.has_value()) << "RFC 7323 2.2: only if offered";
    EXPECT_EQ(synack.tcp.window, 65535u);
    EXPECT_EQ(info_of(c).send_window, 2048u);
    ASSERT_TRUE(c.send(pattern(10000)).has_value());
    const auto out = take();
    EXPECT_EQ(payload_bytes(out), 2048u) << "the peer's window is taken as it is";
    for (const Sent& s : out) {
        EXPECT_EQ(s.tcp.window, 65535u)
            << "our window is sent unscaled (the 64 KiB buffer, capped)";
    }
}

// --- MSS (RFC 9293 3.7.1) ---

TEST_F(TcpBehaviour, WithoutMssOptionSegmentsCarryAtMost536Bytes) {
    auto c = establish_passive();
    ASSERT_TRUE(c.send(pattern(5000)).has_value());
    const auto data = drain(5000);
    EXPECT_EQ(largest_payload(data), 536u);
    EXPECT_EQ(joined(data), pattern(5000));
}

TEST_F(TcpBehaviour, PeerMssLimitsSegments) {
    auto c = establish_passive(mss_option(1000));
    ASSERT_TRUE(c.send(pattern(5000)).has_value());
    const auto data = drain(5000);
    EXPECT_EQ(largest_payload(data), 1000u);
    EXPECT_EQ(joined(data), pattern(5000));
}

TEST_F(TcpBehaviour, PeerMssLessTimestampOptionLimitsSegments) {
    wire::TcpOptions o = mss_option(1000);
    o.timestamps = wire::TcpTimestamps{1, 0};
    auto c = establish_passive(o);
    ASSERT_TRUE(c.send(pattern(5000)).has_value());
    const auto data = drain(5000);
    std::size_t largest = 0;
    for (const Sent& s : data) {
        largest = std::max(largest, s.payload.size());
        EXPECT_TRUE(s.tcp.options.timestamps.has_value());
    }
    EXPECT_EQ(largest, 1000u - 12) << "the timestamp option takes 12 bytes of every segment";
    EXPECT_EQ(joined(data), pattern(5000));
}

// --- sequence numbers across 2^32 (RFC 9293 3.4) ---

TEST_F(TcpBehaviour, ReceivesAcrossTheSequenceWrap) {
    peer_seq = 0xFFFFFFFFu - 1000;  // the peer's ISN
    auto c = establish_passive(mss_option(1460));
    const std::uint32_t start = peer_seq;
    const std::size_t total = 100000;
    const auto data = pattern(total);
    // In pairs sent back to front, so that out-of-order holding is exercised across the wrap too.
    const std::size_t chunk = 1460;
    for (std::size_t offset = 0; offset < total; offset += 2 * chunk) {
        const std::size_t a_len = std::min(chunk, total - offset);
        const std::size_t b_off = offset + a_len;
        const std::size_t b_len = b_off < total ? std::min(chunk, total - b_off) : 0;
        if (b_len > 0) {
            inject(Seg{.seq = start + static_cast<std::uint32_t>(b_off),
                       .ack = our_seq,
                       .payload = slice(data, b_off, b_len)});
        }
        inject(Seg{.seq = start + static_cast<std::uint32_t>(offset),
                   .ack = our_seq,
                   .payload = slice(data, offset, a_len)});
    }
    peer_seq = start + static_cast<std::uint32_t>(total);
    ASSERT_LT(peer_seq, start) << "the transfer must cross 2^32";
    EXPECT_EQ(handler_.received.size(), total);
    EXPECT_TRUE(handler_.received == data) << "bytes out of order or corrupted across the wrap";
    advance(config_.delayed_ack);
    const auto out = take();
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.back().ack(), peer_seq);
    EXPECT_EQ(info_of(c).state, TcpState::Established);
}

TEST_F(TcpBehaviour, SendsAcrossTheSequenceWrap) {
    // ISS = M + F(tuple) (RFC 6528), M counting 64 ns ticks (isn.cpp): learn F for a tuple from
    // one SYN-ACK, then move the clock so that a new connection on that tuple starts just below
    // 2^32. The neighbour entry for the peer lasts 300 s, so look for a tuple that needs less
    // than 150 s.
    constexpr std::uint32_t kTargetIss = 0xFFFFFFFFu - 20000;
    constexpr std::uint32_t kMaxTicks = 150'000'000'000ull / 64;
    const Nanos t0 = clock_.now();
    std::optional<std::uint32_t> ticks;
    for (std::uint16_t port = 41000; port < 43000 && !ticks; ++port) {
        inject(Seg{.flags = kSyn, .seq = peer_seq, .source_port = port});
        const Sent synack = expect_one();
        inject(Seg{.flags = kRst, .seq = peer_seq + 1, .source_port = port});  // back to LISTEN
        expect_none();
        const std::uint32_t delta = kTargetIss - synack.seq();
        if (delta <= kMaxTicks) {
            ticks = delta;
            peer_port = port;
        }
    }
    ASSERT_TRUE(ticks.has_value()) << "no tuple with a usable ISS";
    ASSERT_EQ(stack().connection_count(), 0u);
    clock_.set(t0 + std::chrono::nanoseconds(64 * std::int64_t{*ticks}));
    auto c = establish_passive(mss_option(1460));
    ASSERT_EQ(our_seq, kTargetIss + 1);

    const std::size_t total = 100000;
    const auto data = pattern(total);
    std::size_t queued = 0;
    std::vector<std::byte> got;
    std::uint32_t next = our_seq;
    for (int round = 0; round < 1000 && got.size() < total; ++round) {
        if (queued < total) {
            auto r = c.send(std::span(data).subspan(queued));
            if (r.has_value())
                queued += *r;
        }
        for (const Sent& s : take()) {
            if (s.payload.empty())
                continue;
            ASSERT_EQ(s.seq(), next) << "a gap or a retransmission at " << got.size();
            got.insert(got.end(), s.payload.begin(), s.payload.end());
            next += static_cast<std::uint32_t>(s.payload.size());
        }
        peer_acks(next);
    }
    ASSERT_LT(next, our_seq) << "the transfer must cross 2^32";
    EXPECT_EQ(got.size(), total);
    EXPECT_TRUE(got == data) << "bytes corrupted across the wrap";
    expect_none();
    const auto i = info_of(c);
    EXPECT_EQ(i.bytes_in_flight, 0u);
    EXPECT_EQ(i.send_queue_bytes, 0u);
    EXPECT_EQ(i.retransmits, 0u);
}

// --- zero window and persist probes (RFC 9293 3.8.6.1) ---

TEST_F(TcpBehaviour, ZeroWindowProbesBackOffThenDataFlowsWhenItReopens) {
    auto c = establish_passive(mss_option(1460));
    ASSERT_TRUE(c.send(pattern(1000)).has_value());
    ASSERT_EQ(expect_one().payload.size(), 1000u);
    advance(10ms);
    peer_acks(our_seq + 1000, /*window=*/0);
    our_seq += 1000;
    expect_none();
    ASSERT_TRUE(c.send(pattern(5000, 1000)).has_value());
    expect_none();
    EXPECT_EQ(info_of(c).send_window, 0u);

    std::vector<Nanos> at;
    for (int i = 0; i < 7; ++i) {
        const auto out = wait_for_output(120s);
        ASSERT_EQ(out.size(), 1u) << "probe " << i;
        const Sent& probe = out.front();
        EXPECT_TRUE(probe.payload.empty()) << "a probe carries no new data";
        EXPECT_EQ(probe.seq(), our_seq - 1);
        EXPECT_EQ(probe.ack(), peer_seq);
        at.push_back(clock_.now());
        // The peer answers: still no room.
        peer_acks(our_seq, 0);
        expect_none();
    }
    EXPECT_EQ(counters_.tcp_window_probes, 7u);
    std::vector<Nanos> gaps;
    for (std::size_t i = 1; i < at.size(); ++i)
        gaps.push_back(at[i] - at[i - 1]);
    for (std::size_t i = 1; i < gaps.size(); ++i) {
        EXPECT_GE(gaps[i], gaps[i - 1]) << "probe intervals never shrink";
        if (i <= 4) {
            EXPECT_GE(gaps[i], 2 * gaps[i - 1]) << "and double while below the cap";
        }
    }
    EXPECT_GE(gaps.front(), config_.persist_min);

    // The window opens: the queued data flows, all of it, in order.
    peer_acks(our_seq, 65535);
    EXPECT_EQ(joined(drain(5000)), pattern(5000, 1000));
    EXPECT_EQ(info_of(c).send_queue_bytes, 0u);
}

// --- retransmission timer (RFC 6298) ---

// RFC 6298 2.2: the handshake is the first RTT sample. Here it took no time, so the RTO is the
// floor (200 ms, Linux's), not the 1 s meant for a connection with no sample (2.1); it doubles on
// every expiry (5.5).
TEST_F(TcpBehaviour, TheHandshakeSetsTheFirstRetransmissionTimeoutWhichDoubles) {
    auto c = establish_passive(mss_option(1460));
    EXPECT_GT(info_of(c).srtt, Nanos{0}) << "the handshake was timed";
    EXPECT_EQ(info_of(c).rto, 200ms);
    const auto data = pattern(100);
    ASSERT_TRUE(c.send(data).has_value());
    EXPECT_EQ(expect_one().payload, data);
    for (const Nanos rto : {200ms, 400ms, 800ms, 1600ms}) {
        advance(rto - 1ms);
        expect_none();
        advance(1ms);
        const Sent again = expect_one();
        EXPECT_EQ(again.seq(), our_seq) << rto.count();
        EXPECT_EQ(again.payload, data);
    }
    EXPECT_EQ(counters_.tcp_retransmitted_segments, 4u);
    EXPECT_EQ(counters_.tcp_timeouts, 4u);
    EXPECT_EQ(info_of(c).retransmits, 4u);
}

// A handshake 120 ms long: SRTT 120 ms, RTTVAR 60 ms, RTO 120 + 4 * 60 = 360 ms (RFC 6298 2.2).
TEST_F(TcpBehaviour, AHandshakeRoundTripIsTheFirstSample) {
    inject(Seg{.flags = kSyn, .seq = peer_seq, .options = mss_option(1460)});
    const Sent synack = expect_one();
    advance(120ms);
    peer_seq += 1;
    our_seq = synack.seq() + 1;
    inject(Seg{.seq = peer_seq, .ack = our_seq});
    ASSERT_FALSE(handler_.accepted.empty());
    const auto c = handler_.accepted.back();
    EXPECT_EQ(info_of(c).srtt, 120ms);
    EXPECT_EQ(info_of(c).rto, 360ms);
}

// RFC 6298 5.7: a handshake that needed a retransmission gives no sample (Karn), and data then
// starts with an RTO of 3 s, doubling as ever.
TEST_F(TcpBehaviour, AfterARetransmittedSynAckDataStartsWithThreeSeconds) {
    inject(Seg{.flags = kSyn, .seq = peer_seq, .options = mss_option(1460)});
    const Sent synack = expect_one();
    advance(1s);
    EXPECT_TRUE(expect_one().has(kSyn)) << "the SYN-ACK again";
    peer_seq += 1;
    our_seq = synack.seq() + 1;
    inject(Seg{.seq = peer_seq, .ack = our_seq});
    ASSERT_FALSE(handler_.accepted.empty());
    auto c = handler_.accepted.back();
    EXPECT_EQ(info_of(c).srtt, Nanos{0});
    EXPECT_EQ(info_of(c).rto, 3s);
    ASSERT_TRUE(c.send(pattern(100)).has_value());
    take();
    advance(3s - 1ms);
    expect_none();
    advance(1ms);
    EXPECT_EQ(expect_one().seq(), our_seq);
    EXPECT_EQ(info_of(c).rto, 6s);
}

// RFC 6298 5.3: an ACK of new data restarts the timer (TimerWheel::postpone moves the deadline).
TEST_F(TcpBehaviour, AnAckOfNewDataRestartsTheRetransmissionTimer) {
    auto c = establish_passive(mss_option(100));
    ASSERT_EQ(info_of(c).rto, 200ms);
    ASSERT_TRUE(c.send(pattern(200)).has_value());
    ASSERT_EQ(take().size(), 2u) << "two segments of 100 bytes";
    advance(150ms);
    peer_acks(our_seq + 100);
    // A sample of 150 ms after the handshake's (about 0): RTO still the 200 ms floor, from now.
    EXPECT_EQ(info_of(c).rto, 200ms);
    advance(100ms);
    expect_none();  // 250 ms after the send: the timer no longer counts from there
    advance(99ms);
    expect_none();
    advance(1ms);
    const Sent again = expect_one();
    EXPECT_EQ(again.seq(), our_seq + 100);
    EXPECT_EQ(counters_.tcp_timeouts, 1u);
}

TEST_F(TcpBehaviour, KarnsRuleNoRttSampleFromARetransmittedSegment) {
    auto c = establish_passive(mss_option(1460));
    const Nanos handshake = info_of(c).srtt;
    ASSERT_TRUE(c.send(pattern(100)).has_value());
    take();
    advance(info_of(c).rto);
    ASSERT_EQ(expect_one().seq(), our_seq);  // the retransmission
    advance(20ms);
    peer_acks(our_seq + 100);
    our_seq += 100;
    EXPECT_EQ(info_of(c).bytes_in_flight, 0u);
    EXPECT_EQ(info_of(c).srtt, handshake) << "Karn: an ACK for retransmitted data is ambiguous";

    // A clean exchange is measured: SRTT moves an eighth of the way to 30 ms (RFC 6298 2.3).
    ASSERT_TRUE(c.send(pattern(100)).has_value());
    take();
    advance(30ms);
    peer_acks(our_seq + 100);
    const auto expected = (7 * std::chrono::duration_cast<std::chrono::microseconds>(handshake) +
                           std::chrono::microseconds(30ms)) /
                          8;
    EXPECT_EQ(info_of(c).srtt, expected);
}

TEST_F(TcpBehaviour, SynRetransmissionBacksOffThenTimesOut) {
    config_.syn_retries = 3;
    start(config_);
    auto c = stack().connect(kPeerIp, kServerPort, &handler_);
    ASSERT_TRUE(c.has_value());
    const Sent syn = expect_one();
    for (const Nanos rto : {1000ms, 2000ms, 4000ms}) {
        advance(rto - 1ms);
        expect_none();
        advance(1ms);
        const Sent again = expect_one();
        EXPECT_TRUE(again.has(kSyn) && !again.has(kAck));
        EXPECT_EQ(again.seq(), syn.seq());
    }
    advance(8000ms - 1ms);
    EXPECT_TRUE(c->valid()) << "the last SYN gets its full (backed-off) timeout";
    advance(1ms);
    expect_none();
    EXPECT_TRUE(handler_.saw("closed:timed out"));
    EXPECT_FALSE(c->valid());
    EXPECT_EQ(stack().connection_count(), 0u);
    EXPECT_EQ(counters_.tcp_connect_failures, 1u);
}

// --- delayed ACK (RFC 9293 3.8.6.3, RFC 5681 4.2) ---

TEST_F(TcpBehaviour, OneSmallSegmentIsAckedAfterTheDelayedAckTime) {
    auto c = establish_passive(mss_option(1460));
    peer_sends(bytes("hello"));
    EXPECT_EQ(handler_.received, bytes("hello"));
    expect_none();
    advance(config_.delayed_ack - 1ms);
    expect_none();
    advance(1ms);
    const Sent ack = expect_one();
    EXPECT_EQ(ack.ack(), peer_seq);
    EXPECT_TRUE(ack.payload.empty());
    EXPECT_EQ(counters_.tcp_delayed_acks, 1u);
    (void)c;
}

// An ACK sent early (here with data) leaves the delayed-ACK entry in its queue; an ACK owed again
// goes out when that entry expires: sooner than the delay, never later.
TEST_F(TcpBehaviour, AnAckOwedAgainAfterAnEarlyAckIsNeverLate) {
    auto c = establish_passive(mss_option(1460));
    peer_sends(bytes("one"));
    expect_none();
    advance(10ms);
    ASSERT_TRUE(c.send(bytes("reply")).has_value());
    EXPECT_EQ(expect_one().ack(), peer_seq) << "the reply carries the ACK";
    advance(9ms);
    peer_acks(our_seq + 5);  // the peer is heard from just before "two": no silence before it
    advance(1ms);
    peer_sends(bytes("two"));
    expect_none();
    advance(19ms);
    expect_none();
    advance(1ms);
    const Sent ack = expect_one();
    EXPECT_EQ(ack.ack(), peer_seq);
    EXPECT_TRUE(ack.payload.empty());
    EXPECT_EQ(counters_.tcp_delayed_acks, 1u);
    advance(config_.delayed_ack);
    expect_none();
}

// A segment that comes after a silence is acknowledged at the end of its burst, not within the
// delayed-ACK time: a sender quiet with data unacknowledged was waiting on a timer (a tail loss
// probe whose flight's ACKs were lost, RFC 8985 7.3), and holding the answer to its probe back
// by 40 ms added that to every such stall. Inside a stream the delayed ACK stands.
TEST_F(TcpBehaviour, ASegmentAfterASilenceIsAcknowledgedAtOnce) {
    auto c = establish_passive(mss_option(1460));
    peer_sends(bytes("one"));
    expect_none();
    advance(1ms);
    peer_sends(bytes("two"));
    expect_none();  // one small segment owed after 1 ms: the delayed ACK waits
    advance(config_.delayed_ack);
    EXPECT_EQ(expect_one().ack(), peer_seq);
    advance(5ms);
    peer_sends(bytes("three"));
    const Sent ack = expect_one();
    EXPECT_EQ(ack.ack(), peer_seq) << "after 5 ms of silence the ACK goes at once";
    EXPECT_TRUE(ack.payload.empty());
    (void)c;
}

TEST_F(TcpBehaviour, TwoFullSizedSegmentsAreAckedAtOnce) {
    Sent synack;
    auto c = accept_with(mss_option(1460), synack);
    ASSERT_TRUE(synack.tcp.options.mss.has_value());
    const std::size_t mss = *synack.tcp.options.mss;  // what the peer may send us
    peer_sends(pattern(mss));
    expect_none();
    peer_sends(pattern(mss, mss));
    EXPECT_EQ(expect_one().ack(), peer_seq);
    EXPECT_EQ(counters_.tcp_delayed_acks, 0u);
    EXPECT_EQ(handler_.received, pattern(2 * mss));
    (void)c;
}

// Found by bench/micro: with timestamps a Linux peer's full segments are 12 bytes short of our MSS,
// and the stack waited for a third one.
TEST_F(TcpBehaviour, TwoFullSizedSegmentsWithTimestampsAreAckedAtOnce) {
    wire::TcpOptions o = mss_option(1460);
    o.timestamps = wire::TcpTimestamps{100, 0};
    Sent synack;
    auto c = accept_with(o, synack);
    ASSERT_TRUE(synack.tcp.options.mss && synack.tcp.options.timestamps);
    const std::size_t full = *synack.tcp.options.mss - 12u;
    const std::uint32_t echo = synack.tcp.options.timestamps->value;
    for (std::uint32_t i = 0; i < 2; ++i) {
        wire::TcpOptions ts;
        ts.timestamps = wire::TcpTimestamps{101 + i, echo};
        inject(Seg{.seq = peer_seq,
                   .ack = our_seq,
                   .options = ts,
                   .payload = pattern(full, i * full),
                   .source_port = peer_port});
        peer_seq += static_cast<std::uint32_t>(full);
        if (i == 0)
            expect_none();
    }
    EXPECT_EQ(expect_one().ack(), peer_seq) << "the second full-sized segment is ACKed at once";
    EXPECT_EQ(handler_.received, pattern(2 * full));
    (void)c;
}

// burst_acks.hpp: the two-segment rule's ACK waits for the end of the receive burst, and then one
// ACK covers everything the burst brought, as Linux's ACK of a GRO-merged segment does.
TEST_F(TcpBehaviour, FullSizedSegmentsOfOneBurstShareOneAck) {
    Sent synack;
    auto c = accept_with(mss_option(1460), synack);
    ASSERT_TRUE(synack.tcp.options.mss.has_value());
    const std::size_t mss = *synack.tcp.options.mss;
    constexpr std::size_t kSegments = 7;
    inject_burst(peer_segments(kSegments, mss));
    peer_seq += static_cast<std::uint32_t>(kSegments * mss);
    EXPECT_EQ(expect_one().ack(), peer_seq) << "one ACK, for all seven segments";
    EXPECT_EQ(handler_.received, pattern(kSegments * mss));
    advance(config_.delayed_ack);
    expect_none();  // nothing is owed any more
    (void)c;
}

// A burst that brings more than a quarter of the receive buffer (jumbo frames) does not keep the
// sender waiting for its end: the ACK goes as soon as that much is owed.
TEST_F(TcpBehaviour, ABurstOwingAQuarterOfTheBufferIsAckedBeforeItEnds) {
    config_.receive_buffer = 16 * 1024;  // a quarter is 4 KiB: three 1460-byte segments
    start(config_);
    Sent synack;
    auto c = accept_with(mss_option(1460), synack);
    ASSERT_EQ(synack.tcp.options.mss, 1460);
    constexpr std::size_t kSegments = 6;
    inject_burst(peer_segments(kSegments, 1460));
    const auto acks = take();
    ASSERT_GE(acks.size(), 2u);
    EXPECT_EQ(acks.front().ack(), peer_seq + 3 * 1460) << "the third segment passed 4 KiB owed";
    EXPECT_EQ(acks.back().ack(), peer_seq + kSegments * 1460);
    EXPECT_EQ(handler_.received, pattern(kSegments * 1460));
    (void)c;
}

// RFC 5681 4.2: every out-of-order segment gets its duplicate ACK, burst or not, so that the
// sender can count them.
TEST_F(TcpBehaviour, OutOfOrderSegmentsOfOneBurstEachGetADuplicateAck) {
    auto c = establish_passive(mss_option(1460));
    const auto data = pattern(400);
    const auto part = [&data](std::size_t off, std::size_t len) { return slice(data, off, len); };
    const Seg burst[] = {
        Seg{.seq = peer_seq + 100, .ack = our_seq, .payload = part(100, 100)},
        Seg{.seq = peer_seq + 200, .ack = our_seq, .payload = part(200, 100)},
        Seg{.seq = peer_seq + 300, .ack = our_seq, .payload = part(300, 100)},
    };
    inject_burst(burst);
    const auto acks = take();
    ASSERT_EQ(acks.size(), 3u) << "three duplicate ACKs";
    for (const Sent& a : acks)
        EXPECT_EQ(a.ack(), peer_seq);
    inject(Seg{.seq = peer_seq, .ack = our_seq, .payload = part(0, 100)});
    EXPECT_EQ(expect_one().ack(), peer_seq + 400) << "the gap filled: an ACK at once";
    EXPECT_EQ(handler_.received, data);
    (void)c;
}

TEST_F(TcpBehaviour, OutOfOrderSegmentGetsImmediateDuplicateAckAndWaitsForTheGap) {
    auto c = establish_passive(mss_option(1460));
    const auto data = pattern(300);
    const auto part = [&data](std::size_t off, std::size_t len) { return slice(data, off, len); };
    inject(Seg{.seq = peer_seq + 200, .ack = our_seq, .payload = part(200, 100)});
    EXPECT_EQ(expect_one().ack(), peer_seq) << "a duplicate ACK at once";
    inject(Seg{.seq = peer_seq + 100, .ack = our_seq, .payload = part(100, 100)});
    EXPECT_EQ(expect_one().ack(), peer_seq);
    EXPECT_TRUE(handler_.received.empty());
    inject(Seg{.seq = peer_seq, .ack = our_seq, .payload = part(0, 100)});
    EXPECT_EQ(expect_one().ack(), peer_seq + 300) << "the gap filled: an ACK at once";
    EXPECT_EQ(handler_.received, data);
    EXPECT_EQ(counters_.tcp_out_of_order_segments, 2u);
    (void)c;
}

// RFC 3465: slow start counts the bytes an ACK covers, not the ACK: one ACK for a whole burst
// (a GRO receiver's, or burst_acks.hpp's) grows the window as much as one per segment would.
TEST_F(TcpBehaviour, SlowStartGrowsByTheBytesOneAckCovers) {
    auto c = establish_passive(mss_option(1460));
    const std::uint32_t initial = info_of(c).cwnd;
    ASSERT_EQ(initial, 10u * 1460);
    ASSERT_TRUE(c.send(pattern(initial)).has_value());
    ASSERT_EQ(payload_bytes(take()), initial);
    peer_acks(our_seq + initial);
    our_seq += initial;
    EXPECT_EQ(info_of(c).cwnd, 2 * initial) << "ten segments acknowledged at once: ten more";
    (void)c;
}

// --- Nagle (RFC 9293 3.7.4) ---

TEST_F(TcpBehaviour, NagleHoldsASmallWriteWhileDataIsInFlight) {
    auto c = establish_passive(mss_option(1460));
    ASSERT_TRUE(c.send(bytes("first")).has_value());
    EXPECT_EQ(expect_one().payload, bytes("first"));
    ASSERT_TRUE(c.send(bytes("second")).has_value());
    expect_none();
    advance(100ms);
    expect_none();
    peer_acks(our_seq + 5);
    const Sent held = expect_one();
    EXPECT_EQ(held.seq(), our_seq + 5);
    EXPECT_EQ(held.payload, bytes("second"));
}

TEST_F(TcpBehaviour, NodelaySendsSmallWritesAtOnce) {
    auto c = establish_passive(mss_option(1460));
    ASSERT_TRUE(c.set_nodelay(true).ok());
    ASSERT_TRUE(c.send(bytes("first")).has_value());
    EXPECT_EQ(expect_one().payload, bytes("first"));
    ASSERT_TRUE(c.send(bytes("second")).has_value());
    const Sent second = expect_one();
    EXPECT_EQ(second.seq(), our_seq + 5);
    EXPECT_EQ(second.payload, bytes("second"));
}

// --- keepalive (RFC 9293 3.8.4) ---

class TcpBehaviourKeepalive : public TcpBehaviour {
  protected:
    void SetUp() override {
        TcpBehaviour::SetUp();
        config_.keepalive_idle = 10s;
        config_.keepalive_interval = 1s;
        config_.keepalive_probes = 3;
        start(config_);
    }
    void expect_probe() {
        const Sent probe = expect_one();
        EXPECT_TRUE(probe.has(kAck));
        EXPECT_EQ(probe.seq(), our_seq - 1) << "SND.UNA - 1, a byte the peer has";
        EXPECT_EQ(probe.ack(), peer_seq);
        EXPECT_TRUE(probe.payload.empty());
    }
};

TEST_F(TcpBehaviourKeepalive, UnansweredProbesTimeTheConnectionOut) {
    auto c = establish_passive();
    ASSERT_TRUE(c.set_keepalive(true).ok());
    advance(10s - 1ms);
    expect_none();
    for (int i = 0; i < 3; ++i) {
        advance(i == 0 ? 1ms : 1s);
        expect_probe();
        EXPECT_TRUE(c.valid());
    }
    EXPECT_EQ(counters_.tcp_keepalive_probes, 3u);
    advance(1s - 1ms);
    EXPECT_TRUE(c.valid());
    advance(1ms);
    EXPECT_TRUE(handler_.saw("closed:timed out"));
    EXPECT_FALSE(c.valid());
    EXPECT_EQ(stack().connection_count(), 0u);
}

TEST_F(TcpBehaviourKeepalive, AnAnswerResetsTheIdleTimer) {
    auto c = establish_passive();
    ASSERT_TRUE(c.set_keepalive(true).ok());
    advance(10s);
    expect_probe();
    advance(500ms);
    peer_acks(our_seq);  // the answer
    expect_none();
    advance(10s - 1ms);
    expect_none();
    EXPECT_TRUE(c.valid());
    advance(1ms);
    expect_probe();
    EXPECT_EQ(counters_.tcp_keepalive_probes, 2u);
    EXPECT_TRUE(c.valid());
    EXPECT_FALSE(handler_.saw("closed:timed out"));
}

TEST_F(TcpBehaviour, NoKeepaliveProbesByDefault) {
    auto c = establish_passive();
    advance(200s);
    expect_none();
    EXPECT_TRUE(c.valid());
}

// --- the receive window (RFC 9293 3.8.6) ---

TEST_F(TcpBehaviour, ReceiveWindowShrinksWithUnreadDataAndReopensOnRead) {
    config_.receive_buffer = 16384;
    start(config_);
    handler_.read_on_readable = false;
    Sent synack;
    auto c = accept_with(mss_option(1460), synack);
    EXPECT_EQ(synack.tcp.window, 16384u) << "never more than the receive buffer";

    std::uint32_t unread = 0;
    for (int i = 0; i < 16; ++i) {
        peer_sends(pattern(1024, unread));
        unread += 1024;
        advance(config_.delayed_ack);
        const auto out = take();
        ASSERT_FALSE(out.empty()) << i;
        for (const Sent& s : out)
            EXPECT_LE(s.tcp.window, 16384u);
        EXPECT_EQ(out.back().ack(), peer_seq);
        EXPECT_EQ(out.back().tcp.window, 16384u - unread) << "after " << unread << " unread bytes";
    }
    EXPECT_EQ(c.readable(), 16384u);
    // The window is shut: more data is refused, and acknowledged with the zero window.
    inject(Seg{.seq = peer_seq, .ack = our_seq, .payload = pattern(100)});
    const Sent refused = expect_one();
    EXPECT_EQ(refused.ack(), peer_seq);
    EXPECT_EQ(refused.tcp.window, 0u);
    EXPECT_EQ(c.readable(), 16384u);

    // A small read is not worth an update (receiver-side SWS avoidance, RFC 9293 3.8.6.2.2).
    std::vector<std::byte> buffer(8192);
    ASSERT_EQ(c.read(std::span(buffer).first(100)), 100u);
    expect_none();
    // A big one is: a window update goes out at once.
    ASSERT_EQ(c.read(buffer), 8192u);
    const Sent update = expect_one();
    EXPECT_EQ(update.ack(), peer_seq);
    EXPECT_EQ(update.tcp.window, 8192u + 100);
    // Reading the rest through receive() opens it further, in steps worth a segment or two.
    std::uint32_t freed = 0;
    while (rte_mbuf* m = c.receive()) {
        freed += m->data_len;
        rte_pktmbuf_free(m);
    }
    EXPECT_EQ(freed, 16384u - 8192 - 100);
    EXPECT_EQ(c.readable(), 0u);
    const auto out = take();
    ASSERT_FALSE(out.empty());
    EXPECT_GT(out.back().tcp.window, update.tcp.window);
    EXPECT_GE(out.back().tcp.window, 16384u - 2 * 1460);
    EXPECT_LE(out.back().tcp.window, 16384u);
    // The peer can use it.
    peer_sends(pattern(1400));
    peer_sends(pattern(1400, 1400));
    EXPECT_EQ(c.readable(), 2800u);
}

// --- the send window and the application ---

// Found with a rate-limited curl: an ACK that frees buffer space wakes the application, which
// sends at once; that send must see the window the same ACK brought, not the old one slid forward
// to the new SND.UNA (RFC 9293 3.10.7.4: SND.WND is updated as part of processing the ACK).
TEST_F(TcpBehaviour, DataSentFromOnWritableStaysInsideTheWindowTheAckBrought) {
    config_.send_buffer = 8000;
    start(config_);
    auto c = establish_passive(mss_option(1000));
    auto queued = c.send(pattern(20000));
    ASSERT_TRUE(queued.has_value());
    ASSERT_EQ(*queued, 8000u) << "the buffer is full; the application waits for on_writable";
    EXPECT_EQ(payload_bytes(take()), 8000u);

    std::size_t offered = *queued;
    handler_.on_writable_do = [&](api::Connection conn) {
        if (auto n = conn.send(pattern(8000, offered)))
            offered += *n;
    };
    // Everything acknowledged, but the reader is slow: only 2000 bytes of room.
    peer_acks(our_seq + 8000, /*window=*/2000);
    EXPECT_TRUE(handler_.saw("writable"));
    EXPECT_EQ(offered, 16000u);
    const auto out = take();
    EXPECT_EQ(payload_bytes(out), 2000u) << "nothing beyond the peer's right edge";
    for (const Sent& s : out)
        EXPECT_LE(s.seq() + s.payload.size(), our_seq + 8000 + 2000);
}

// --- the listen backlog ---

TEST_F(TcpBehaviour, ListenBacklogDropsSynsBeyondIt) {
    config_.listen_backlog = 2;
    start(config_);
    std::vector<Sent> synacks;
    for (std::uint16_t port = 41001; port <= 41002; ++port) {
        inject(Seg{.flags = kSyn, .seq = peer_seq, .source_port = port});
        synacks.push_back(expect_one());
        EXPECT_TRUE(synacks.back().has(kSyn) && synacks.back().has(kAck));
    }
    inject(Seg{.flags = kSyn, .seq = peer_seq, .source_port = 41003});
    expect_none();
    EXPECT_EQ(counters_.dropped(DropReason::TcpListenOverflow), 1u);
    EXPECT_EQ(stack().connections_in(TcpState::SynReceived), 2u);

    // Once one completes, there is room again.
    inject(Seg{.seq = peer_seq + 1, .ack = synacks[0].seq() + 1, .source_port = 41001});
    expect_none();
    EXPECT_EQ(stack().connections_in(TcpState::Established), 1u);
    inject(Seg{.flags = kSyn, .seq = peer_seq, .source_port = 41003});
    EXPECT_TRUE(expect_one().has(kSyn));
    EXPECT_EQ(counters_.dropped(DropReason::TcpListenOverflow), 1u);
}

// --- the flow lookup reuses the NIC's RSS hash ---

class TcpWithDeviceRss : public TcpBehaviour {
  protected:
    TcpWithDeviceRss() { device_rss_ = &rss_; }
    // What the NIC writes into the mbuf for a segment from the peer to us.
    std::uint32_t nic_hash() const {
        return rss_.hash(kPeerIp.host(), kOurIp.host(), peer_port, kServerPort);
    }
    void peer_sends_hashed(const std::vector<std::byte>& payload, std::uint32_t hash) {
        inject(Seg{.seq = peer_seq,
                   .ack = our_seq,
                   .payload = payload,
                   .source_port = peer_port,
                   .device_hash = hash});
        peer_seq += static_cast<std::uint32_t>(payload.size());
    }
    flow::RssModel rss_{flow::RssModel::symmetric_key(), flow::RssModel::round_robin_table(2, 128)};
};

TEST_F(TcpWithDeviceRss, SegmentIsFoundByTheHashTheNicComputed) {
    auto c = establish_passive();
    peer_sends_hashed(bytes("hashed by the nic"), nic_hash());
    EXPECT_TRUE(c.valid());
    EXPECT_EQ(handler_.received, bytes("hashed by the nic"));
    EXPECT_EQ(counters_.flow_device_hash_mismatches, 0u)
        << "the device's hash located the connection with no software hash";
}

TEST_F(TcpWithDeviceRss, AWrongDeviceHashIsCaughtAndTheSegmentStillArrives) {
    auto c = establish_passive();
    peer_sends_hashed(bytes("bad hash"), ~nic_hash());
    EXPECT_TRUE(c.valid());
    EXPECT_EQ(handler_.received, bytes("bad hash"));
    EXPECT_EQ(counters_.flow_device_hash_mismatches, 1u)
        << "the lookup used the mbuf's hash, missed, and fell back to hashing the tuple";
    for (const Sent& s : take())
        EXPECT_FALSE(s.has(kRst));
}

TEST_F(TcpBehaviour, WithoutAKnownRssTheMbufHashIsIgnored) {
    auto c = establish_passive();
    inject(Seg{.seq = peer_seq,
               .ack = our_seq,
               .payload = bytes("crc"),
               .source_port = peer_port,
               .device_hash = 12345});
    EXPECT_TRUE(c.valid());
    EXPECT_EQ(handler_.received, bytes("crc"));
    EXPECT_EQ(counters_.flow_device_hash_mismatches, 0u);
}

}  // namespace
}  // namespace sluice::test
