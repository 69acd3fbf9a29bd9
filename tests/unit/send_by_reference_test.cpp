// Data segments sent by reference (SendQueue::frame): a segment that is one whole send-queue mbuf
// goes out as that mbuf, its headers in the headroom, and the device takes a reference. What must
// hold: the bytes on the wire are the stream's, a frame a device still holds is never written
// again (a retransmission then is a copy), writes after a sent frame do not change it, segments
// come back in line with the mbufs after a partly filled one was sent, and a zero-copy chain
// someone else also holds is never written into.
#include <gtest/gtest.h>

#include <vector>

#include "tests/support/eal_environment.hpp"
#include "tests/support/tcp_fixture.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

wire::TcpOptions mss_option(std::uint16_t mss) {
    wire::TcpOptions o;
    o.mss = mss;
    return o;
}

std::vector<std::byte> slice(const std::vector<std::byte>& data, std::size_t offset,
                             std::size_t length) {
    return {data.begin() + static_cast<std::ptrdiff_t>(offset),
            data.begin() + static_cast<std::ptrdiff_t>(offset + length)};
}

class SendByReference : public TcpFixture {
  protected:
    void peer_acks(std::uint32_t ack) {
        inject(Seg{.seq = peer_seq, .ack = ack, .source_port = peer_port});
    }
    std::uint64_t by_reference() const { return counters_.tcp_segments_sent_by_reference; }
};

TEST_F(SendByReference, FullSegmentsGoByReferenceWithTheStreamsBytes) {
    auto c = establish_passive(mss_option(1000));
    const auto data = pattern(5000);
    ASSERT_EQ(c.send(data).value(), 5000u);
    const auto sent = take();
    ASSERT_EQ(sent.size(), 5u);
    for (std::size_t i = 0; i < sent.size(); ++i) {
        EXPECT_EQ(sent[i].seq(), our_seq + i * 1000);
        EXPECT_EQ(sent[i].payload, slice(data, i * 1000, 1000)) << "segment " << i;
    }
    EXPECT_EQ(by_reference(), 5u);
    EXPECT_EQ(counters_.tcp_segments_sent, 5u + 1u) << "and the SYN-ACK";
}

TEST_F(SendByReference, ARetransmissionGoesByReferenceOnceTheDeviceHasLetGo) {
    auto c = establish_passive(mss_option(1000));
    const auto data = pattern(1000);
    ASSERT_TRUE(c.send(data).has_value());
    EXPECT_EQ(expect_one().payload, data);  // take() frees the frame, as a device does
    advance(c.info()->rto);
    const Sent again = expect_one();
    EXPECT_EQ(again.seq(), our_seq);
    EXPECT_EQ(again.payload, data);
    EXPECT_EQ(by_reference(), 2u);
    EXPECT_EQ(counters_.tcp_retransmitted_segments, 1u);
}

TEST_F(SendByReference, AFrameTheDeviceStillHoldsIsNeverWrittenAgain) {
    auto c = establish_passive(mss_option(1000));
    const auto data = pattern(1000);
    ASSERT_TRUE(c.send(data).has_value());
    auto held = take_frames();
    ASSERT_EQ(held.size(), 1u);
    const auto before = bytes_of(held[0]);

    advance(
        c.info()
            ->rto);  // the retransmission timer fires while the device still has the first frame
    const Sent again = expect_one();
    EXPECT_EQ(again.seq(), our_seq);
    EXPECT_EQ(again.payload, data);
    EXPECT_EQ(by_reference(), 1u) << "the retransmission was copied";
    EXPECT_EQ(bytes_of(held[0]), before) << "the held frame was written to";

    const auto first = parse_sent(before);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->seq(), our_seq);
    EXPECT_EQ(first->payload, data);
    // The data is acknowledged while the device still holds the frame: it stays valid until the
    // device frees it.
    peer_acks(our_seq + 1000);
    EXPECT_EQ(bytes_of(held[0]), before);
    rte_pktmbuf_free(held[0]);
}

TEST_F(SendByReference, WritesAfterASentFrameDoNotChangeIt) {
    auto c = establish_passive(mss_option(1000));
    ASSERT_TRUE(c.set_nodelay(true).ok());
    const auto data = pattern(300);
    ASSERT_TRUE(c.send(slice(data, 0, 100)).has_value());
    auto held = take_frames();
    ASSERT_EQ(held.size(), 1u);
    const auto before = bytes_of(held[0]);
    EXPECT_EQ(by_reference(), 1u);

    // The next write fills the same mbuf after the frame's end, and goes out as a copy.
    ASSERT_TRUE(c.send(slice(data, 100, 200)).has_value());
    const Sent second = expect_one();
    EXPECT_EQ(second.seq(), our_seq + 100);
    EXPECT_EQ(second.payload, slice(data, 100, 200));
    EXPECT_EQ(bytes_of(held[0]), before);
    const auto first = parse_sent(before);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->payload, slice(data, 0, 100));
    rte_pktmbuf_free(held[0]);
}

TEST_F(SendByReference, ASegmentStartingInsideAnMbufEndsWithItAndTheNextOnesLineUp) {
    auto c = establish_passive(mss_option(1000));
    const auto data = pattern(5300);
    ASSERT_TRUE(c.send(slice(data, 0, 300)).has_value());
    EXPECT_EQ(expect_one().payload, slice(data, 0, 300));
    // The write fills the first mbuf to 1000 bytes, then four of 1000 and one of 300.
    ASSERT_EQ(c.send(slice(data, 300, 5000)).value(), 5000u);
    const auto sent = take();
    ASSERT_EQ(sent.size(), 5u) << "the last 300 bytes wait for an ACK (Nagle)";
    EXPECT_EQ(sent[0].seq(), our_seq + 300);
    EXPECT_EQ(sent[0].payload, slice(data, 300, 700)) << "ends where the first mbuf does";
    for (std::size_t i = 1; i < sent.size(); ++i) {
        EXPECT_EQ(sent[i].seq(), our_seq + i * 1000);
        EXPECT_EQ(sent[i].payload, slice(data, i * 1000, 1000)) << "segment " << i;
    }
    EXPECT_EQ(by_reference(), 1u + 4u) << "all but the one that realigned";

    peer_acks(our_seq + 5000);
    const Sent last = expect_one();
    EXPECT_EQ(last.seq(), our_seq + 5000);
    EXPECT_EQ(last.payload, slice(data, 5000, 300));
}

TEST_F(SendByReference, ASmallWriteAcrossTwoMbufsIsStillOneSegment) {
    auto c = establish_passive(mss_option(1000));
    ASSERT_TRUE(c.set_nodelay(true).ok());
    const auto data = pattern(64 * 16);
    // The sixteenth write puts 40 bytes in the first mbuf (full at 1000) and 24 in a second.
    for (std::size_t i = 0; i < 16; ++i) {
        ASSERT_TRUE(c.send(slice(data, i * 64, 64)).has_value());
        const Sent s = expect_one();
        EXPECT_EQ(s.seq(), our_seq + i * 64);
        EXPECT_EQ(s.payload, slice(data, i * 64, 64)) << "write " << i;
    }
}

TEST_F(SendByReference, AChainOfOurOwnGoesByReference) {
    auto c = establish_passive(mss_option(1000));
    const auto data = pattern(2000);
    rte_mbuf* chain = make_mbuf(slice(data, 0, 1000));
    ASSERT_EQ(rte_pktmbuf_chain(chain, make_mbuf(slice(data, 1000, 1000))), 0);
    ASSERT_EQ(c.send_mbuf(chain).value(), 2000u);
    const auto sent = take();
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_EQ(sent[0].payload, slice(data, 0, 1000));
    EXPECT_EQ(sent[1].payload, slice(data, 1000, 1000));
    EXPECT_EQ(by_reference(), 2u);
}

// An echo server hands back what it received, mbuf for mbuf: one short mbuf in front (a small
// segment from its peer) goes alone, and the full ones after it stay in line and go by reference
// instead of each straddling two mbufs (and being copied) from then on.
TEST_F(SendByReference, AShortMbufDoesNotShiftTheSegmentsAfterIt) {
    auto c = establish_passive(mss_option(1000));
    const auto data = pattern(2100);
    rte_mbuf* chain = make_mbuf(slice(data, 0, 100));
    ASSERT_EQ(rte_pktmbuf_chain(chain, make_mbuf(slice(data, 100, 1000))), 0);
    ASSERT_EQ(rte_pktmbuf_chain(chain, make_mbuf(slice(data, 1100, 1000))), 0);
    ASSERT_EQ(c.send_mbuf(chain).value(), 2100u);
    const auto sent = take();
    ASSERT_EQ(sent.size(), 3u);
    EXPECT_EQ(sent[0].payload, slice(data, 0, 100));
    EXPECT_EQ(sent[1].payload, slice(data, 100, 1000));
    EXPECT_EQ(sent[2].payload, slice(data, 1100, 1000));
    EXPECT_EQ(by_reference(), 3u);
}

TEST_F(SendByReference, AChainSomeoneElseAlsoHoldsIsNeverWrittenInto) {
    auto c = establish_passive(mss_option(1000));
    const auto data = pattern(1000);
    rte_mbuf* shared = make_mbuf(data);
    rte_mbuf_refcnt_update(shared, 1);  // the other holder's reference
    const auto data_off = shared->data_off;
    const auto data_len = shared->data_len;
    const auto before = bytes_of(shared);

    ASSERT_EQ(c.send_mbuf(shared).value(), 1000u);
    const Sent s = expect_one();
    EXPECT_EQ(s.payload, data);
    EXPECT_EQ(by_reference(), 0u) << "its buffer is shared: copied";
    EXPECT_EQ(shared->data_off, data_off);
    EXPECT_EQ(shared->data_len, data_len);
    EXPECT_EQ(shared->next, nullptr);
    EXPECT_EQ(bytes_of(shared), before);
    EXPECT_EQ(rte_mbuf_refcnt_read(shared), 2u) << "the queue holds the buffer until acked";

    peer_acks(our_seq + 1000);
    EXPECT_EQ(rte_mbuf_refcnt_read(shared), 1u) << "acked: only the other holder is left";
    rte_pktmbuf_free(shared);
}

TEST_F(SendByReference, AChainThatNeedsMbufsThePoolLacksIsRefusedAndLeftAlone) {
    auto c = establish_passive(mss_option(1000));
    rte_mbuf* shared = make_mbuf(pattern(500));
    rte_mbuf_refcnt_update(shared, 1);
    std::vector<rte_mbuf*> hoard;
    while (rte_mbuf* m = rte_pktmbuf_alloc(packet_pool()))
        hoard.push_back(m);

    const auto r = c.send_mbuf(shared);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), ENOBUFS);
    EXPECT_EQ(rte_mbuf_refcnt_read(shared), 2u) << "the caller still owns it";
    EXPECT_EQ(shared->data_len, 500u);

    for (rte_mbuf* m : hoard)
        rte_pktmbuf_free(m);
    rte_pktmbuf_free(shared);
    rte_pktmbuf_free(shared);
    expect_none();
}

}  // namespace
}  // namespace sluice::test
