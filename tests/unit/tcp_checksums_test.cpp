// What each --tcp-checksums mode does to the segments the engine receives and sends (RFC 9293
// 3.1: a segment whose checksum is wrong is discarded), over a net_ring port with a manual clock.
#include <gtest/gtest.h>

#include "tests/support/tcp_fixture.hpp"

namespace sluice::test {
namespace {

using namespace wire::tcp_flag;

class TcpChecksumModes : public TcpFixture {
  protected:
    void start_with(TcpChecksums mode) {
        offloads_.tcp = mode;
        start(config_);
    }

    // The peer sends `text` with its checksum made wrong on the way.
    void peer_sends_corrupted(std::string_view text) {
        inject(
            Seg{.seq = peer_seq, .ack = our_seq, .payload = bytes(text), .corrupt_checksum = true});
    }
};

TEST_F(TcpChecksumModes, FullDropsAndCountsASegmentWhoseChecksumIsWrong) {
    start_with(TcpChecksums::Full);
    auto c = establish_passive();
    peer_sends_corrupted("hello");
    EXPECT_EQ(counters_.dropped(DropReason::TcpBadChecksum), 1u);
    EXPECT_TRUE(handler_.received.empty());
    advance(config_.delayed_ack);
    expect_none();  // nothing arrived, so nothing is acknowledged

    // Sent checksums are summed: take() checks every one, and fails on a segment left unsummed.
    ASSERT_TRUE(c.send(bytes("reply")).has_value());
    EXPECT_EQ(expect_one().payload, bytes("reply"));
}

TEST_F(TcpChecksumModes, TrustReceivedTakesASegmentWhoseChecksumIsWrongAndStillSumsItsOwn) {
    start_with(TcpChecksums::TrustReceived);
    auto c = establish_passive();
    peer_sends_corrupted("hello");
    EXPECT_EQ(counters_.dropped(DropReason::TcpBadChecksum), 0u);
    EXPECT_EQ(handler_.received, bytes("hello"));
    advance(config_.delayed_ack);
    EXPECT_EQ(expect_one().ack(), peer_seq + 5);

    ASSERT_TRUE(c.send(bytes("reply")).has_value());
    EXPECT_EQ(expect_one().payload, bytes("reply"));  // take() checks its checksum: it is right
}

TEST_F(TcpChecksumModes, OffNeitherChecksNorSums) {
    start_with(TcpChecksums::Off);
    // The SYN-ACK, like every segment, leaves with the field as zero.
    inject(Seg{.flags = kSyn, .seq = peer_seq, .corrupt_checksum = true});
    const Sent synack = expect_one();
    ASSERT_TRUE(synack.has(kSyn) && synack.has(kAck));
    EXPECT_EQ(synack.checksum, 0);
    peer_seq += 1;
    our_seq = synack.seq() + 1;
    inject(Seg{.seq = peer_seq, .ack = our_seq, .corrupt_checksum = true});
    expect_none();
    ASSERT_EQ(handler_.accepted.size(), 1u);
    api::Connection c = handler_.accepted.front();

    peer_sends_corrupted("hello");
    EXPECT_EQ(handler_.received, bytes("hello"));
    ASSERT_TRUE(c.send(bytes("reply")).has_value());
    const Sent reply = expect_one();
    EXPECT_EQ(reply.payload, bytes("reply"));
    EXPECT_EQ(reply.ack(), peer_seq + 5);
    EXPECT_EQ(reply.checksum, 0);

    // A reset is not summed either: a segment for a port nobody listens on.
    inject(Seg{.flags = kSyn, .seq = 7, .destination_port = kServerPort + 1});
    const Sent reset = expect_one();
    EXPECT_TRUE(reset.has(kRst));
    EXPECT_EQ(reset.checksum, 0);
    EXPECT_EQ(counters_.dropped(DropReason::TcpBadChecksum), 0u);
}

}  // namespace
}  // namespace sluice::test
