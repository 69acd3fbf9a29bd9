#include "tests/support/tcp_fixture.hpp"

#include <algorithm>

#include "dataplane/wire/ethernet.hpp"
#include "dataplane/wire/ipv4.hpp"
#include "tests/support/eal_environment.hpp"
#include "tests/support/frame_builder.hpp"

namespace sluice::test {

using namespace wire::tcp_flag;

// --- RecordingHandler ---

api::ConnectionHandler* RecordingHandler::on_accept(api::Connection c) {
    events.push_back("accept");
    accepted.push_back(c);
    last = c;
    return refuse ? nullptr : this;
}
void RecordingHandler::on_connected(api::Connection c) {
    events.push_back("connected");
    last = c;
}
void RecordingHandler::on_readable(api::Connection c) {
    events.push_back("readable");
    if (!read_on_readable)
        return;
    while (rte_mbuf* m = c.receive()) {
        const auto* p = rte_pktmbuf_mtod(m, const std::byte*);
        received.insert(received.end(), p, p + m->data_len);
        rte_pktmbuf_free(m);
    }
}
void RecordingHandler::on_writable(api::Connection c) {
    events.push_back("writable");
    if (on_writable_do)
        on_writable_do(c);
}
void RecordingHandler::on_peer_closed(api::Connection) {
    events.push_back("peer_closed");
}
void RecordingHandler::on_closed(api::Connection, api::CloseReason r) {
    events.push_back("closed:" + std::string(api::close_reason_name(r)));
}
bool RecordingHandler::saw(const std::string& e) const {
    return std::find(events.begin(), events.end(), e) != events.end();
}

// --- TcpFixture ---

void TcpFixture::SetUp() {
    mbufs_before_ = mbufs_in_use();
    config_.max_connections = 64;
    config_.send_buffer = 64 * 1024;
    config_.receive_buffer = 64 * 1024;
}

void TcpFixture::start(const tcp::TcpConfig& config) {
    static int n = 0;
    config_ = config;
    tx_ = std::make_unique<TxBatch>(port_.port_id(), 0, counters_);
    InterfaceConfig ic;
    ic.mac = kOurMac;
    ic.address = {kOurIp, 24};
    NeighborConfig nc;
    nc.capacity = 16;
    const std::string name = "tcpfx" + std::to_string(n++);
    auto net = NetStack::create(ic, nc, offloads_, packet_pool(), *tx_, counters_, clock_, name);
    ASSERT_TRUE(net.has_value()) << net.error();
    net_ = std::move(net.value());
    auto tcp = tcp::TcpStack::create(config_, net_->transport_link(), packet_pool(), counters_,
                                     clock_, name, device_rss_);
    ASSERT_TRUE(tcp.has_value()) << tcp.error();
    tcp_ = std::move(tcp.value());
    net_->set_transport(tcp_.get());
    ASSERT_TRUE(tcp_->listen(kServerPort, &handler_).ok());
    // The peer introduces itself the way a real one would: by asking for our MAC.
    wire::EthernetHeader eth{wire::MacAddress::broadcast(), kPeerMac, std::nullopt,
                             wire::ethertype::kArp};
    wire::ArpPacket arp{wire::ArpOperation::Request, kPeerMac, kPeerIp, wire::MacAddress::zero(),
                        kOurIp};
    net_->receive(make_mbuf(arp_frame(eth, arp)));
    tx_->flush();
    port_.take_transmitted();
    started_ = true;
}

void TcpFixture::TearDown() {
    tcp_.reset();
    net_.reset();
    tx_.reset();
    port_.take_transmitted();
    EXPECT_EQ(mbufs_in_use(), mbufs_before_) << "mbufs leaked";
}

void TcpFixture::inject(const Seg& s) {
    receive_one(s);
    tcp_->send_burst_acks();
}

void TcpFixture::inject_burst(std::span<const Seg> burst) {
    for (const Seg& s : burst)
        receive_one(s);
    tcp_->send_burst_acks();
}

void TcpFixture::receive_one(const Seg& s) {
    if (!started_)
        start(config_);
    wire::TcpHeader th;
    th.source_port = s.source_port;
    th.destination_port = s.destination_port;
    th.seq = tcp::SeqNum(s.seq);
    th.ack = tcp::SeqNum(s.ack);
    th.flags = s.flags;
    th.window = s.window;
    th.options = s.options;
    const wire::EthernetHeader eth{kOurMac, kPeerMac, std::nullopt, wire::ethertype::kIpv4};
    auto frame = tcp_frame(eth, kPeerIp, kOurIp, th, s.payload);
    if (s.corrupt_checksum) {
        const std::size_t at =
            eth.length() + wire::Ipv4Header::kMinLength + wire::kTcpChecksumOffset;
        frame[at] ^= std::byte{0x5a};
    }
    rte_mbuf* m = make_mbuf(frame);
    if (s.device_hash) {
        m->ol_flags |= RTE_MBUF_F_RX_RSS_HASH;
        m->hash.rss = *s.device_hash;
    }
    net_->receive(m);
}

std::vector<Sent> TcpFixture::take() {
    if (!started_)
        start(config_);
    tx_->flush();
    std::vector<Sent> out;
    for (const auto& frame : port_.take_transmitted()) {
        if (auto sent = parse_sent(frame))
            out.push_back(std::move(*sent));
    }
    return out;
}

std::vector<rte_mbuf*> TcpFixture::take_frames() {
    if (!started_)
        start(config_);
    tx_->flush();
    return port_.take_transmitted_mbufs();
}

std::optional<Sent> TcpFixture::parse_sent(std::span<const std::byte> frame) const {
    auto eth = wire::EthernetHeader::parse(frame);
    EXPECT_TRUE(eth.has_value());
    if (!eth || eth->ethertype != wire::ethertype::kIpv4)
        return std::nullopt;
    const std::span<const std::byte> ip_bytes(frame.data() + eth->length(),
                                              frame.size() - eth->length());
    auto ip = wire::Ipv4Header::parse(ip_bytes);
    EXPECT_TRUE(ip.has_value()) << "the engine sent a bad IPv4 header";
    if (!ip || ip->protocol != wire::ip_protocol::kTcp)
        return std::nullopt;
    EXPECT_EQ(ip->destination, kPeerIp);
    const auto seg = ip_bytes.subspan(ip->header_length, ip->payload_length());
    auto th = wire::TcpHeader::parse(seg, ip->source, ip->destination,
                                     offloads_.tcp == TcpChecksums::Off
                                         ? wire::TransportChecksum::VerifiedByDevice
                                         : wire::TransportChecksum::Verify);
    EXPECT_TRUE(th.has_value()) << "the engine sent a TCP segment that does not parse (checksum?)";
    if (!th)
        return std::nullopt;
    return Sent{*th, std::vector<std::byte>(seg.begin() + th->header_length, seg.end()),
                wire::load_be16(seg.data() + wire::kTcpChecksumOffset).host()};
}

Sent TcpFixture::expect_one() {
    auto out = take();
    EXPECT_EQ(out.size(), 1u) << "expected exactly one segment from the engine";
    if (out.empty())
        return Sent{};
    return out.front();
}

void TcpFixture::expect_none() {
    const auto out = take();
    EXPECT_TRUE(out.empty()) << "expected silence, the engine sent " << out.size()
                             << " segment(s), first flags "
                             << (out.empty() ? 0 : int{out[0].tcp.flags});
}

void TcpFixture::advance(Nanos by) {
    if (!started_)
        start(config_);
    // In steps of at most a tick, as a running worker would see it.
    const Nanos end = clock_.now() + by;
    while (clock_.now() < end) {
        clock_.advance(std::min<Nanos>(std::chrono::milliseconds(1), end - clock_.now()));
        net_->poll_timers();
        tcp_->poll_timers();
    }
}

api::Connection TcpFixture::establish_passive(const wire::TcpOptions& syn_options) {
    Seg syn{.flags = kSyn, .seq = peer_seq, .options = syn_options, .source_port = peer_port};
    inject(syn);
    const Sent synack = expect_one();
    EXPECT_TRUE(synack.has(kSyn) && synack.has(kAck));
    EXPECT_EQ(synack.ack(), peer_seq + 1);
    peer_seq += 1;
    our_seq = synack.seq() + 1;
    if (handshake_rtt.count() > 0)
        advance(handshake_rtt);
    wire::TcpOptions ack_options;
    if (syn_options.timestamps && synack.tcp.options.timestamps) {
        ack_options.timestamps = wire::TcpTimestamps{syn_options.timestamps->value + 1,
                                                     synack.tcp.options.timestamps->value};
    }
    inject(Seg{.seq = peer_seq, .ack = our_seq, .options = ack_options, .source_port = peer_port});
    expect_none();
    EXPECT_TRUE(handler_.saw("connected"));
    return handler_.accepted.empty() ? api::Connection{} : handler_.accepted.back();
}

api::Connection TcpFixture::establish_active(const wire::TcpOptions& options) {
    if (!started_)
        start(config_);
    auto c = tcp_->connect(kPeerIp, kServerPort, &handler_);
    EXPECT_TRUE(c.has_value());
    const Sent syn = expect_one();
    EXPECT_TRUE(syn.has(kSyn) && !syn.has(kAck));
    our_seq = syn.seq() + 1;
    peer_port = syn.tcp.source_port;
    wire::TcpOptions synack_options = options;
    if (synack_options.timestamps && syn.tcp.options.timestamps) {
        synack_options.timestamps->echo_reply = syn.tcp.options.timestamps->value;
    }
    if (handshake_rtt.count() > 0)
        advance(handshake_rtt);
    inject(Seg{.flags = kSyn | kAck,
               .seq = peer_seq,
               .ack = our_seq,
               .options = synack_options,
               .source_port = kServerPort,
               .destination_port = peer_port});
    peer_seq += 1;
    const Sent ack = expect_one();
    EXPECT_TRUE(ack.has(kAck) && !ack.has(kSyn));
    EXPECT_EQ(ack.ack(), peer_seq);
    EXPECT_TRUE(handler_.saw("connected"));
    return c.has_value() ? *c : api::Connection{};
}

std::vector<std::byte> TcpFixture::bytes(std::string_view s) {
    std::vector<std::byte> out(s.size());
    std::transform(s.begin(), s.end(), out.begin(), [](char c) { return std::byte(c); });
    return out;
}

std::vector<std::byte> TcpFixture::pattern(std::size_t n, std::size_t offset) {
    std::vector<std::byte> out(n);
    for (std::size_t i = 0; i < n; ++i)
        out[i] = std::byte(static_cast<std::uint8_t>((offset + i) * 7 + 3));
    return out;
}

}  // namespace sluice::test
