// The link and network layers of a worker, driven frame by frame over a real net_ring port, with a
// manual clock: ARP answers and resolution, echo replies, every drop path, VLANs, announcements.
#include "dataplane/net/net_stack.hpp"

#include <gtest/gtest.h>

#include "dataplane/wire/checksum.hpp"
#include "dataplane/wire/icmp.hpp"
#include "dataplane/worker.hpp"
#include "tests/support/eal_environment.hpp"
#include "tests/support/frame_builder.hpp"
#include "tests/support/ring_port.hpp"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using wire::ArpOperation;
using wire::ArpPacket;
using wire::EthernetHeader;
using wire::Ipv4Address;
using wire::MacAddress;

const MacAddress kOurMac({0x02, 0x00, 0x00, 0x00, 0x00, 0x02});
const MacAddress kPeerMac({0x02, 0x00, 0x00, 0x00, 0x00, 0x01});
const Ipv4Address kOurIp = Ipv4Address::from_octets(10, 0, 0, 2);
const Ipv4Address kPeerIp = Ipv4Address::from_octets(10, 0, 0, 1);
const Ipv4Address kGatewayIp = Ipv4Address::from_octets(10, 0, 0, 254);

using Frame = std::vector<std::byte>;

// What came out, parsed back with the wire layer.
struct SentEcho {
    EthernetHeader eth;
    wire::Ipv4Header ip;
    wire::IcmpHeader icmp;
    std::vector<std::byte> payload;
};

class NetStackTest : public ::testing::Test {
  protected:
    void SetUp() override { mbufs_before_ = test::mbufs_in_use(); }
    void TearDown() override {
        stack_.reset();
        tx_.reset();
        port_.take_transmitted();
        EXPECT_EQ(test::mbufs_in_use(), mbufs_before_) << "mbufs leaked";
    }

    void start(InterfaceConfig config = default_config(), ChecksumOffloads offloads = {}) {
        static int n = 0;
        tx_ = std::make_unique<TxBatch>(port_.port_id(), 0, counters_);
        NeighborConfig neighbors;
        neighbors.capacity = 64;
        auto s = NetStack::create(config, neighbors, offloads, test::packet_pool(), *tx_, counters_,
                                  clock_, "ns_test" + std::to_string(n++));
        ASSERT_TRUE(s.has_value()) << s.error();
        stack_ = std::move(s.value());
    }
    static InterfaceConfig default_config() {
        InterfaceConfig c;
        c.mac = kOurMac;
        c.address = {kOurIp, 24};
        return c;
    }

    // Delivers a frame and returns what the stack transmitted in response.
    std::vector<Frame> deliver(const Frame& frame) {
        stack_->receive(test::make_mbuf(frame));
        return flushed();
    }
    std::vector<Frame> flushed() {
        tx_->flush();
        return port_.take_transmitted();
    }

    // Tells the stack the peer's MAC the way a real peer would: by asking for ours.
    void introduce_peer() {
        EthernetHeader eth{MacAddress::broadcast(), kPeerMac, std::nullopt, wire::ethertype::kArp};
        ArpPacket arp{ArpOperation::Request, kPeerMac, kPeerIp, MacAddress::zero(), kOurIp};
        ASSERT_EQ(deliver(test::arp_frame(eth, arp)).size(), 1u);
    }

    test::EchoSpec echo_from_peer() const {
        test::EchoSpec spec;
        spec.eth_source = kPeerMac;
        spec.eth_destination = kOurMac;
        spec.ip_source = kPeerIp;
        spec.ip_destination = kOurIp;
        return spec;
    }

    static SentEcho parse_echo(const Frame& frame) {
        SentEcho out;
        auto eth = EthernetHeader::parse(frame);
        EXPECT_TRUE(eth.has_value());
        out.eth = *eth;
        const std::span<const std::byte> ip_bytes(frame.data() + eth->length(),
                                                  frame.size() - eth->length());
        auto ip = wire::Ipv4Header::parse(ip_bytes);
        EXPECT_TRUE(ip.has_value()) << "reply's IPv4 header must be valid, checksum included";
        out.ip = *ip;
        const auto icmp_bytes = ip_bytes.subspan(ip->header_length, ip->payload_length());
        auto icmp = wire::IcmpHeader::parse(icmp_bytes);
        EXPECT_TRUE(icmp.has_value()) << "reply's ICMP checksum must be valid";
        out.icmp = *icmp;
        out.payload.assign(icmp_bytes.begin() + wire::IcmpHeader::kLength, icmp_bytes.end());
        return out;
    }

    static ArpPacket parse_arp(const Frame& frame, EthernetHeader* eth_out = nullptr) {
        auto eth = EthernetHeader::parse(frame);
        EXPECT_TRUE(eth.has_value());
        EXPECT_EQ(eth->ethertype, wire::ethertype::kArp);
        if (eth_out != nullptr)
            *eth_out = *eth;
        auto arp = ArpPacket::parse(std::span(frame).subspan(eth->length()));
        EXPECT_TRUE(arp.has_value());
        return *arp;
    }

    test::RingPort port_;
    WorkerCounters counters_;
    ManualClock clock_;
    std::unique_ptr<TxBatch> tx_;
    std::unique_ptr<NetStack> stack_;
    unsigned mbufs_before_ = 0;
};

TEST_F(NetStackTest, AnswersArpRequestForOurAddress) {
    start();
    EthernetHeader eth{MacAddress::broadcast(), kPeerMac, std::nullopt, wire::ethertype::kArp};
    ArpPacket request{ArpOperation::Request, kPeerMac, kPeerIp, MacAddress::zero(), kOurIp};
    const auto out = deliver(test::arp_frame(eth, request));

    ASSERT_EQ(out.size(), 1u);
    EthernetHeader reply_eth;
    const ArpPacket reply = parse_arp(out[0], &reply_eth);
    EXPECT_EQ(reply_eth.destination, kPeerMac);
    EXPECT_EQ(reply_eth.source, kOurMac);
    EXPECT_EQ(reply.operation, ArpOperation::Reply);
    EXPECT_EQ(reply.sender_mac, kOurMac);
    EXPECT_EQ(reply.sender_ip, kOurIp);
    EXPECT_EQ(reply.target_mac, kPeerMac);
    EXPECT_EQ(reply.target_ip, kPeerIp);
    EXPECT_EQ(counters_.arp_replies_sent, 1u);
    // RFC 826: the requester is now known.
    EXPECT_NE(stack_->neighbors().lookup(kPeerIp, clock_.now()), nullptr);
}

TEST_F(NetStackTest, IgnoresArpRequestForAnotherAddressAndLearnsNothingNew) {
    start();
    EthernetHeader eth{MacAddress::broadcast(), kPeerMac, std::nullopt, wire::ethertype::kArp};
    ArpPacket request{ArpOperation::Request, kPeerMac, kPeerIp, MacAddress::zero(),
                      Ipv4Address::from_octets(10, 0, 0, 99)};
    EXPECT_TRUE(deliver(test::arp_frame(eth, request)).empty());
    EXPECT_EQ(counters_.dropped(DropReason::ArpNotForUs), 1u);
    EXPECT_EQ(stack_->neighbors().size(), 0u);
}

TEST_F(NetStackTest, RefusesArpFromImpossibleSenders) {
    start();
    EthernetHeader eth{MacAddress::broadcast(), kPeerMac, std::nullopt, wire::ethertype::kArp};
    ArpPacket bad_mac{ArpOperation::Request, MacAddress::broadcast(), kPeerIp, MacAddress::zero(),
                      kOurIp};
    ArpPacket our_ip{ArpOperation::Request, kPeerMac, kOurIp, MacAddress::zero(), kOurIp};
    EXPECT_TRUE(deliver(test::arp_frame(eth, bad_mac)).empty());
    EXPECT_TRUE(deliver(test::arp_frame(eth, our_ip)).empty());
    EXPECT_EQ(counters_.dropped(DropReason::ArpBadSender), 2u);
    EXPECT_EQ(stack_->neighbors().size(), 0u);
}

TEST_F(NetStackTest, TruncatedArpIsCountedNotAnswered) {
    start();
    EthernetHeader eth{MacAddress::broadcast(), kPeerMac, std::nullopt, wire::ethertype::kArp};
    ArpPacket request{ArpOperation::Request, kPeerMac, kPeerIp, MacAddress::zero(), kOurIp};
    Frame frame = test::arp_frame(eth, request);
    frame.resize(EthernetHeader::kUntaggedLength + 27);
    EXPECT_TRUE(deliver(frame).empty());
    EXPECT_EQ(counters_.dropped(DropReason::ArpTruncated), 1u);
}

TEST_F(NetStackTest, EchoRequestGetsAMirroredReply) {
    start();
    introduce_peer();
    test::EchoSpec spec = echo_from_peer();
    spec.type_of_service = 0x10;
    spec.ttl = 3;
    const auto out = deliver(test::echo_request_frame(spec));

    ASSERT_EQ(out.size(), 1u);
    const SentEcho reply = parse_echo(out[0]);
    EXPECT_EQ(reply.eth.destination, kPeerMac);
    EXPECT_EQ(reply.eth.source, kOurMac);
    EXPECT_EQ(reply.ip.source, kOurIp);
    EXPECT_EQ(reply.ip.destination, kPeerIp);
    EXPECT_EQ(reply.ip.ttl, wire::Ipv4Header::kDefaultTtl);
    EXPECT_EQ(reply.ip.type_of_service, 0x10) << "RFC 1122 3.2.2.6";
    EXPECT_EQ(reply.icmp.type, wire::icmp_type::kEchoReply);
    EXPECT_EQ(reply.icmp.code, 0);
    EXPECT_EQ(reply.icmp.identifier, spec.identifier);
    EXPECT_EQ(reply.icmp.sequence, spec.sequence);
    EXPECT_EQ(reply.payload, spec.payload);
    EXPECT_EQ(counters_.icmp_echo_requests, 1u);
    EXPECT_EQ(counters_.icmp_echo_replies_sent, 1u);
}

TEST_F(NetStackTest, ReplyToUnknownPeerWaitsForArpThenLeaves) {
    start();
    auto out = deliver(test::echo_request_frame(echo_from_peer()));
    // The reply is held and a request for the peer goes out instead.
    ASSERT_EQ(out.size(), 1u);
    EthernetHeader eth;
    const ArpPacket request = parse_arp(out[0], &eth);
    EXPECT_EQ(eth.destination, MacAddress::broadcast());
    EXPECT_EQ(request.operation, ArpOperation::Request);
    EXPECT_EQ(request.target_ip, kPeerIp);
    EXPECT_EQ(request.sender_ip, kOurIp);
    EXPECT_EQ(counters_.arp_requests_sent, 1u);

    EthernetHeader reply_eth{kOurMac, kPeerMac, std::nullopt, wire::ethertype::kArp};
    ArpPacket answer{ArpOperation::Reply, kPeerMac, kPeerIp, kOurMac, kOurIp};
    out = deliver(test::arp_frame(reply_eth, answer));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(parse_echo(out[0]).icmp.type, wire::icmp_type::kEchoReply);
    EXPECT_EQ(parse_echo(out[0]).eth.destination, kPeerMac);
}

TEST_F(NetStackTest, UnansweredResolutionDropsTheHeldReply) {
    start();
    ASSERT_EQ(deliver(test::echo_request_frame(echo_from_peer())).size(), 1u);
    for (int i = 1; i <= 3; ++i) {
        clock_.advance(1s);
        stack_->poll_timers();
    }
    EXPECT_EQ(flushed().size(), 2u) << "two more requests, one a second";
    EXPECT_EQ(counters_.arp_requests_sent, 3u);
    EXPECT_EQ(counters_.dropped(DropReason::NeighborUnresolved), 1u);
}

TEST_F(NetStackTest, BadHeaderChecksumIsCountedAndNotAnswered) {
    start();
    introduce_peer();
    Frame frame = test::echo_request_frame(echo_from_peer());
    frame[EthernetHeader::kUntaggedLength + 10] ^= std::byte{0x01};
    EXPECT_TRUE(deliver(frame).empty());
    EXPECT_EQ(counters_.dropped(DropReason::Ipv4BadChecksum), 1u);
    EXPECT_EQ(counters_.icmp_echo_replies_sent, 0u);
}

TEST_F(NetStackTest, DeviceVerifiedChecksumIsTrustedOnlyWhenGood) {
    ChecksumOffloads offloads;
    offloads.rx_ipv4 = true;
    start(default_config(), offloads);
    introduce_peer();
    Frame frame = test::echo_request_frame(echo_from_peer());
    frame[EthernetHeader::kUntaggedLength + 10] ^= std::byte{0x01};
    // Flagged bad by the device: the stack sums it itself, finds it bad.
    rte_mbuf* m = test::make_mbuf(frame);
    m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_BAD;
    stack_->receive(m);
    EXPECT_TRUE(flushed().empty());
    EXPECT_EQ(counters_.dropped(DropReason::Ipv4BadChecksum), 1u);
    // Flagged good: trusted without summing.
    m = test::make_mbuf(frame);
    m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD;
    stack_->receive(m);
    EXPECT_EQ(flushed().size(), 1u);
}

TEST_F(NetStackTest, TxChecksumOffloadLeavesTheHeaderSumToTheDevice) {
    ChecksumOffloads offloads;
    offloads.tx_ipv4 = true;
    start(default_config(), offloads);
    introduce_peer();
    stack_->receive(test::make_mbuf(test::echo_request_frame(echo_from_peer())));
    tx_->flush();
    const auto sent = port_.take_transmitted_mbufs();
    ASSERT_EQ(sent.size(), 1u);
    rte_mbuf* m = sent[0];
    EXPECT_TRUE(m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM);
    EXPECT_TRUE(m->ol_flags & RTE_MBUF_F_TX_IPV4);
    EXPECT_EQ(m->l2_len, EthernetHeader::kUntaggedLength);
    EXPECT_EQ(m->l3_len, wire::Ipv4Header::kMinLength);
    const auto* header = rte_pktmbuf_mtod_offset(m, const std::uint8_t*, m->l2_len);
    EXPECT_EQ(header[10], 0);  // left for the device to fill
    EXPECT_EQ(header[11], 0);
    rte_pktmbuf_free(m);
}

TEST_F(NetStackTest, BadIcmpChecksumIsCounted) {
    start();
    introduce_peer();
    Frame frame = test::echo_request_frame(echo_from_peer());
    frame.back() ^= std::byte{0xff};
    EXPECT_TRUE(deliver(frame).empty());
    EXPECT_EQ(counters_.dropped(DropReason::IcmpBadChecksum), 1u);
}

TEST_F(NetStackTest, FramesForOtherHostsAreDropped) {
    start();
    test::EchoSpec other_mac = echo_from_peer();
    other_mac.eth_destination = MacAddress({0x02, 9, 9, 9, 9, 9});
    test::EchoSpec other_ip = echo_from_peer();
    other_ip.ip_destination = Ipv4Address::from_octets(10, 0, 0, 77);
    EXPECT_TRUE(deliver(test::echo_request_frame(other_mac)).empty());
    EXPECT_TRUE(deliver(test::echo_request_frame(other_ip)).empty());
    EXPECT_EQ(counters_.dropped(DropReason::EthernetNotForUs), 1u);
    EXPECT_EQ(counters_.dropped(DropReason::Ipv4NotForUs), 1u);
}

TEST_F(NetStackTest, MartianSourcesAreDropped) {
    start();
    for (const Ipv4Address source :
         {Ipv4Address::from_octets(224, 0, 0, 1), Ipv4Address::limited_broadcast(),
          Ipv4Address::from_octets(127, 0, 0, 1), Ipv4Address::from_octets(10, 0, 0, 255)}) {
        test::EchoSpec spec = echo_from_peer();
        spec.ip_source = source;
        EXPECT_TRUE(deliver(test::echo_request_frame(spec)).empty()) << source.to_string();
    }
    EXPECT_EQ(counters_.dropped(DropReason::Ipv4BadSource), 4u);
}

TEST_F(NetStackTest, EchoToBroadcastIsIgnored) {
    start();
    test::EchoSpec spec = echo_from_peer();
    spec.eth_destination = MacAddress::broadcast();
    spec.ip_destination = Ipv4Address::from_octets(10, 0, 0, 255);
    EXPECT_TRUE(deliver(test::echo_request_frame(spec)).empty());
    spec.ip_destination = Ipv4Address::limited_broadcast();
    EXPECT_TRUE(deliver(test::echo_request_frame(spec)).empty());
    EXPECT_EQ(counters_.dropped(DropReason::IcmpEchoToBroadcast), 2u);
}

TEST_F(NetStackTest, FragmentsAreCountedAndDropped) {
    start();
    test::EchoSpec spec = echo_from_peer();
    spec.more_fragments = true;
    EXPECT_TRUE(deliver(test::echo_request_frame(spec)).empty());
    EXPECT_EQ(counters_.dropped(DropReason::Ipv4Fragment), 1u);
}

TEST_F(NetStackTest, OptionsAreSkippedAndNotEchoed) {
    start();
    introduce_peer();
    test::EchoSpec spec = echo_from_peer();
    spec.ip_option_bytes = 8;
    const auto out = deliver(test::echo_request_frame(spec));
    ASSERT_EQ(out.size(), 1u);
    const SentEcho reply = parse_echo(out[0]);
    EXPECT_EQ(reply.ip.header_length, wire::Ipv4Header::kMinLength);
    EXPECT_EQ(reply.payload, spec.payload);
    EXPECT_EQ(counters_.ipv4_options_skipped, 1u);
}

TEST_F(NetStackTest, LinkPaddingIsNotPartOfTheDatagram) {
    start();
    introduce_peer();
    test::EchoSpec spec = echo_from_peer();
    spec.payload.resize(4);
    Frame frame = test::echo_request_frame(spec);
    frame.resize(60, std::byte{0xee});  // minimum Ethernet frame, padded
    const auto out = deliver(frame);
    ASSERT_EQ(out.size(), 1u);
    const SentEcho reply = parse_echo(out[0]);
    EXPECT_EQ(reply.payload, spec.payload);
    EXPECT_EQ(reply.ip.total_length, 20 + 8 + 4);
}

TEST_F(NetStackTest, OnlyOurVlanIsAnsweredAndRepliesCarryTheTag) {
    InterfaceConfig config = default_config();
    config.vlan_id = 7;
    start(config);
    EthernetHeader eth{MacAddress::broadcast(), kPeerMac, std::uint16_t{7}, wire::ethertype::kArp};
    ArpPacket request{ArpOperation::Request, kPeerMac, kPeerIp, MacAddress::zero(), kOurIp};
    ASSERT_EQ(deliver(test::arp_frame(eth, request)).size(), 1u);

    test::EchoSpec tagged = echo_from_peer();
    tagged.vlan_tci = 7 | (3 << 13);  // priority bits do not matter
    auto out = deliver(test::echo_request_frame(tagged));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(parse_echo(out[0]).eth.vlan_id(), 7);

    test::EchoSpec untagged = echo_from_peer();
    test::EchoSpec other = echo_from_peer();
    other.vlan_tci = 8;
    EXPECT_TRUE(deliver(test::echo_request_frame(untagged)).empty());
    EXPECT_TRUE(deliver(test::echo_request_frame(other)).empty());
    EXPECT_EQ(counters_.dropped(DropReason::VlanMismatch), 2u);
}

TEST_F(NetStackTest, PriorityTaggedFramesBelongToTheUntaggedNetwork) {
    start();
    introduce_peer();
    test::EchoSpec spec = echo_from_peer();
    spec.vlan_tci = 5 << 13;  // VLAN id 0, priority 5
    EXPECT_EQ(deliver(test::echo_request_frame(spec)).size(), 1u);
}

TEST_F(NetStackTest, UnsupportedEthertypeIsCounted) {
    start();
    Frame frame = test::echo_request_frame(echo_from_peer());
    frame[12] = std::byte{0x86};
    frame[13] = std::byte{0xdd};  // IPv6
    EXPECT_TRUE(deliver(frame).empty());
    EXPECT_EQ(counters_.dropped(DropReason::UnsupportedEthertype), 1u);
}

TEST_F(NetStackTest, ShortFrameIsCountedAsTruncated) {
    start();
    const Frame frame(10, std::byte{0xff});
    EXPECT_TRUE(deliver(frame).empty());
    EXPECT_EQ(counters_.dropped(DropReason::EthernetTruncated), 1u);
}

TEST_F(NetStackTest, OffLinkDestinationsGoThroughTheGatewayOrNowhere) {
    start();
    const Ipv4Address far = Ipv4Address::from_octets(192, 0, 2, 1);
    rte_mbuf* m = rte_pktmbuf_alloc(test::packet_pool());
    ASSERT_NE(rte_pktmbuf_append(m, wire::Ipv4Header::kMinLength), nullptr);
    stack_->send_ipv4(m, far);
    EXPECT_TRUE(flushed().empty());
    EXPECT_EQ(counters_.dropped(DropReason::NoRoute), 1u);

    stack_.reset();
    InterfaceConfig config = default_config();
    config.gateway = kGatewayIp;
    start(config);
    m = rte_pktmbuf_alloc(test::packet_pool());
    ASSERT_NE(rte_pktmbuf_append(m, wire::Ipv4Header::kMinLength), nullptr);
    stack_->send_ipv4(m, far);
    const auto out = flushed();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(parse_arp(out[0]).target_ip, kGatewayIp) << "the gateway is resolved, not the host";
}

TEST_F(NetStackTest, AnnouncesTwiceTwoSecondsApart) {
    start();
    stack_->announce();
    auto out = flushed();
    ASSERT_EQ(out.size(), 1u);
    EthernetHeader eth;
    const ArpPacket first = parse_arp(out[0], &eth);
    EXPECT_EQ(eth.destination, MacAddress::broadcast());
    EXPECT_TRUE(first.is_gratuitous());
    EXPECT_EQ(first.sender_ip, kOurIp);
    EXPECT_EQ(first.sender_mac, kOurMac);

    clock_.advance(1999ms);
    stack_->poll_timers();
    EXPECT_TRUE(flushed().empty());
    clock_.advance(1ms);
    stack_->poll_timers();
    EXPECT_EQ(flushed().size(), 1u);
    clock_.advance(10s);
    stack_->poll_timers();
    EXPECT_TRUE(flushed().empty());
    EXPECT_EQ(counters_.arp_gratuitous_sent, 2u);
}

TEST_F(NetStackTest, WorkerLoopCarriesFramesFromRxToTx) {
    tx_ = std::make_unique<TxBatch>(port_.port_id(), 0, counters_);  // unused by the worker
    WorkerConfig config;
    config.port_id = port_.port_id();
    config.interface = default_config();
    config.neighbors.capacity = 64;
    auto worker = Worker::create(config, test::packet_pool(), clock_);
    ASSERT_TRUE(worker.has_value()) << worker.error();

    EthernetHeader eth{MacAddress::broadcast(), kPeerMac, std::nullopt, wire::ethertype::kArp};
    ArpPacket request{ArpOperation::Request, kPeerMac, kPeerIp, MacAddress::zero(), kOurIp};
    port_.inject(test::make_mbuf(test::arp_frame(eth, request)));
    for (int i = 0; i < 5; ++i)
        port_.inject(test::make_mbuf(test::echo_request_frame(echo_from_peer())));

    EXPECT_EQ((*worker)->poll_once(), 6);
    const auto out = port_.take_transmitted();
    ASSERT_EQ(out.size(), 6u);
    EXPECT_EQ((*worker)->counters().rx_packets, 6u);
    EXPECT_EQ((*worker)->counters().tx_packets, 6u);
    EXPECT_EQ((*worker)->counters().icmp_echo_replies_sent, 5u);
}

}  // namespace
}  // namespace sluice
