#include "bench/micro/tcp_rig.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>

#include "bench/micro/micro_environment.hpp"
#include "dataplane/wire/arp.hpp"
#include "dataplane/wire/checksum.hpp"
#include "dataplane/wire/ethernet.hpp"
#include "dataplane/wire/ipv4.hpp"
#include "tests/support/frame_builder.hpp"

namespace sluice::bench {

using namespace wire::tcp_flag;

namespace {

// Each rig's rings, port and hash tables need names of their own in the process.
std::uint16_t g_next_rig = 0;

constexpr std::size_t kTcpSeqOffset = 4;
constexpr std::size_t kTcpAckOffset = 8;
constexpr std::uint32_t kPeerTimestamp = 7;  // the peer's TSval; constant is fine for PAWS

rte_mbuf* fresh_mbuf() {
    rte_mbuf* m = rte_pktmbuf_alloc(packet_pool());
    if (m == nullptr)
        throw std::runtime_error("the benchmark mbuf pool is empty (a leak?)");
    return m;
}

}  // namespace

// --- FrameTemplate ---

FrameTemplate::FrameTemplate(const PeerSegment& s, NicMarks marks)
    : seq_(s.seq), ack_(s.ack), marks_(marks) {
    wire::TcpHeader th;
    th.source_port = s.source_port;
    th.destination_port = s.destination_port;
    th.seq = tcp::SeqNum(s.seq);
    th.ack = tcp::SeqNum(s.ack);
    th.flags = s.flags;
    th.window = s.window;
    th.options = s.options;
    std::vector<std::byte> payload(s.payload_length);
    for (std::size_t i = 0; i < payload.size(); ++i)
        payload[i] = std::byte(static_cast<std::uint8_t>(i * 7 + 3));
    const wire::EthernetHeader eth{TcpRig::kOurMac, TcpRig::kPeerMac, std::nullopt,
                                   wire::ethertype::kIpv4};
    tcp_offset_ = eth.length() + wire::Ipv4Header::kMinLength;
    bytes_ = test::tcp_frame(eth, TcpRig::kPeerIp, TcpRig::kOurIp, th, payload);
}

namespace {

// Stores `now` at `field` (a 32-bit header field that held `was`) and adjusts the TCP checksum at
// `checksum` for it, two 16-bit words at a time (RFC 1624).
void rewrite_word(std::byte* field, std::byte* checksum, std::uint32_t was, std::uint32_t now) {
    wire::store_be32(field, wire::be32::from_host(now));
    wire::be16 sum = wire::load_be16(checksum);
    sum = wire::checksum_adjust(sum, wire::be16::from_host(static_cast<std::uint16_t>(was >> 16)),
                                wire::be16::from_host(static_cast<std::uint16_t>(now >> 16)));
    sum = wire::checksum_adjust(sum, wire::be16::from_host(static_cast<std::uint16_t>(was)),
                                wire::be16::from_host(static_cast<std::uint16_t>(now)));
    wire::store_be16(checksum, sum);
}

}  // namespace

void FrameTemplate::fill(rte_mbuf* m, std::uint32_t seq, std::uint32_t ack) const {
    auto* p = rte_pktmbuf_mtod(m, std::byte*);
    std::memcpy(p, bytes_.data(), bytes_.size());
    m->data_len = static_cast<std::uint16_t>(bytes_.size());
    m->pkt_len = static_cast<std::uint32_t>(bytes_.size());
    m->ol_flags = marks_.ol_flags;
    m->hash.rss = marks_.rss_hash;
    std::byte* tcp = p + tcp_offset_;
    if (seq != seq_)
        rewrite_word(tcp + kTcpSeqOffset, tcp + wire::kTcpChecksumOffset, seq_, seq);
    if (ack != ack_)
        rewrite_word(tcp + kTcpAckOffset, tcp + wire::kTcpChecksumOffset, ack_, ack);
}

rte_mbuf* FrameTemplate::make() const {
    rte_mbuf* m = fresh_mbuf();
    fill(m, seq_);
    return m;
}

// --- SinkHandler ---

api::ConnectionHandler* SinkHandler::on_accept(api::Connection c) {
    accepted.push_back(c);
    return this;
}

void SinkHandler::on_readable(api::Connection c) {
    while (rte_mbuf* m = c.receive()) {
        bytes_read += m->pkt_len;
        rte_pktmbuf_free(m);
    }
}

// --- TcpRig ---

tcp::TcpConfig TcpRig::default_tcp() {
    tcp::TcpConfig config;
    config.max_connections = 1024;
    return config;
}

TcpRig::TcpRig(const Options& options)
    : offloads_(options.offloads), name_("micro" + std::to_string(g_next_rig)) {
    const std::uint16_t id = g_next_rig++;
    rx_ = rte_ring_create((name_ + "_rx").c_str(), 1024, SOCKET_ID_ANY,
                          RING_F_SP_ENQ | RING_F_SC_DEQ);
    tx_ = rte_ring_create((name_ + "_tx").c_str(), 1024, SOCKET_ID_ANY,
                          RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (rx_ == nullptr || tx_ == nullptr)
        throw std::runtime_error("cannot create the rig's rings");
    const int port = rte_eth_from_rings(name_.c_str(), &rx_, 1, &tx_, 1, SOCKET_ID_ANY);
    if (port < 0)
        throw std::runtime_error("rte_eth_from_rings failed");
    port_id_ = static_cast<std::uint16_t>(port);
    rte_eth_conf conf{};
    if (rte_eth_dev_configure(port_id_, 1, 1, &conf) != 0 ||
        rte_eth_rx_queue_setup(port_id_, 0, 1024, SOCKET_ID_ANY, nullptr, packet_pool()) != 0 ||
        rte_eth_tx_queue_setup(port_id_, 0, 1024, SOCKET_ID_ANY, nullptr) != 0 ||
        rte_eth_dev_start(port_id_) != 0) {
        throw std::runtime_error("cannot start the rig's ring port");
    }
    port_started_ = true;

    WorkerConfig config;
    config.id = id;
    config.port_id = port_id_;
    config.interface.mac = kOurMac;
    config.interface.address = {kOurIp, 24};
    config.neighbors.capacity = 16;
    // The clock jumps ahead in some benchmarks; the peer's ARP entry must not go stale meanwhile.
    config.neighbors.reachable_time = std::chrono::hours(24 * 365);
    config.offloads = options.offloads;
    config.tcp = options.tcp;
    if (options.device_rss) {
        // One queue: every hash leads here. The key is the one the engine programs.
        rss_ = std::make_unique<flow::RssModel>(flow::RssModel::symmetric_key(),
                                                flow::RssModel::round_robin_table(1, 128));
        config.device_rss = rss_.get();
    }
    auto worker = Worker::create(config, packet_pool(), clock_);
    if (!worker)
        throw std::runtime_error("cannot create the worker: " + worker.error());
    worker_ = std::move(worker.value());
    if (!tcp().listen(kServerPort, &handler_).ok())
        throw std::runtime_error("cannot listen on the server port");

    const wire::EthernetHeader eth{wire::MacAddress::broadcast(), kPeerMac, std::nullopt,
                                   wire::ethertype::kArp};
    const wire::ArpPacket arp{wire::ArpOperation::Request, kPeerMac, kPeerIp,
                              wire::MacAddress::zero(), kOurIp};
    const std::vector<std::byte> frame = test::arp_frame(eth, arp);
    rte_mbuf* m = fresh_mbuf();
    std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame.size())), frame.data(),
                frame.size());
    deliver(m);
    run_until_idle();
    drain_transmitted();  // our ARP reply
}

TcpRig::~TcpRig() {
    worker_.reset();  // its TxBatch flushes onto the port, drained below
    if (tx_ != nullptr)
        drain_transmitted();
    void* m;
    while (rx_ != nullptr && rte_ring_dequeue(rx_, &m) == 0)
        rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    if (port_started_)
        rte_eth_dev_stop(port_id_);
    if (rte_eth_dev_is_valid_port(port_id_))
        rte_eth_dev_close(port_id_);
    rte_ring_free(rx_);
    rte_ring_free(tx_);
}

NicMarks TcpRig::nic_marks(std::uint16_t peer_port) const {
    NicMarks marks;
    if (offloads_.rx_ipv4)
        marks.ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD;
    if (offloads_.rx_tcp)
        marks.ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
    if (rss_ != nullptr) {
        marks.ol_flags |= RTE_MBUF_F_RX_RSS_HASH;
        marks.rss_hash = rss_->hash(kPeerIp.host(), kOurIp.host(), peer_port, kServerPort);
    }
    return marks;
}

void TcpRig::deliver(std::span<rte_mbuf* const> frames) {
    if (rte_ring_enqueue_bulk(rx_, reinterpret_cast<void* const*>(frames.data()),
                              static_cast<unsigned>(frames.size()), nullptr) == 0) {
        throw std::runtime_error("the rig's rx ring is full");
    }
}

unsigned TcpRig::run_until_idle() {
    unsigned turns = 0;
    do {
        worker_->poll_once();
        ++turns;
    } while (rte_ring_count(rx_) > 0);
    return turns;
}

unsigned TcpRig::drain_transmitted() {
    constexpr unsigned kBurst = 64;
    void* frames[kBurst];
    unsigned total = 0;
    for (;;) {
        const unsigned n = rte_ring_dequeue_burst(tx_, frames, kBurst, nullptr);
        if (n == 0)
            return total;
        rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(frames), n);
        total += n;
    }
}

unsigned TcpRig::timed_turn(Stopwatch& stopwatch) {
    stopwatch.start();
    worker_->poll_once();
    const unsigned sent = drain_transmitted();
    stopwatch.stop();
    return sent;
}

std::vector<std::vector<std::byte>> TcpRig::take_transmitted() {
    std::vector<std::vector<std::byte>> out;
    void* item;
    while (rte_ring_dequeue(tx_, &item) == 0) {
        auto* m = static_cast<rte_mbuf*>(item);
        std::vector<std::byte> bytes(m->pkt_len);
        const void* p = rte_pktmbuf_read(m, 0, m->pkt_len, bytes.data());
        if (p != bytes.data())
            std::memcpy(bytes.data(), p, m->pkt_len);
        out.push_back(std::move(bytes));
        rte_pktmbuf_free(m);
    }
    return out;
}

TcpRig::Connection TcpRig::establish(std::uint16_t peer_port, bool timestamps) {
    constexpr std::uint32_t kPeerIsn = 1'000'000;
    PeerSegment syn{.flags = kSyn, .seq = kPeerIsn, .source_port = peer_port};
    syn.options.mss = 1460;
    syn.options.window_scale = 7;
    syn.options.sack_permitted = true;
    if (timestamps)
        syn.options.timestamps = wire::TcpTimestamps{kPeerTimestamp, 0};
    const std::size_t accepted_before = handler_.accepted.size();
    deliver(FrameTemplate(syn).make());
    run_until_idle();
    std::optional<wire::TcpHeader> synack;
    for (const auto& frame : take_transmitted()) {
        if (auto th = parse_tcp_frame(frame, offloads_); th && th->has(kSyn) && th->has(kAck))
            synack = th;
    }
    if (!synack)
        throw std::runtime_error("no SYN-ACK to the rig's SYN");

    Connection c;
    c.timestamps = timestamps && synack->options.timestamps.has_value();
    c.peer_next_seq = kPeerIsn + 1;
    c.our_next_seq = synack->seq.raw() + 1;
    c.our_ts = c.timestamps ? synack->options.timestamps->value : 0;
    c.mss = static_cast<std::uint16_t>(1460 - (c.timestamps ? 12 : 0));
    PeerSegment ack{.seq = c.peer_next_seq, .ack = c.our_next_seq, .source_port = peer_port};
    ack.options = peer_options(c);
    deliver(FrameTemplate(ack).make());
    run_until_idle();
    drain_transmitted();
    if (handler_.accepted.size() != accepted_before + 1)
        throw std::runtime_error("the rig's connection was not accepted");
    c.handle = handler_.accepted.back();
    return c;
}

wire::TcpOptions TcpRig::peer_options(const Connection& c) {
    wire::TcpOptions o;
    if (c.timestamps)
        o.timestamps = wire::TcpTimestamps{kPeerTimestamp, c.our_ts};
    return o;
}

std::optional<wire::TcpHeader> parse_tcp_frame(std::span<const std::byte> frame,
                                               const ChecksumOffloads& offloads) {
    const auto eth = wire::EthernetHeader::parse(frame);
    if (!eth || eth->ethertype != wire::ethertype::kIpv4)
        return std::nullopt;
    const auto packet = frame.subspan(eth->length());
    const auto ip =
        wire::Ipv4Header::parse(packet, offloads.tx_ipv4 ? wire::HeaderChecksum::VerifiedByDevice
                                                         : wire::HeaderChecksum::Verify);
    if (!ip || ip->protocol != wire::ip_protocol::kTcp)
        return std::nullopt;
    const auto th = wire::TcpHeader::parse(
        packet.subspan(ip->header_length, ip->payload_length()), ip->source, ip->destination,
        offloads.tx_tcp ? wire::TransportChecksum::VerifiedByDevice
                        : wire::TransportChecksum::Verify);
    if (!th)
        return std::nullopt;
    return *th;
}

}  // namespace sluice::bench
