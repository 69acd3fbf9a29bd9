// Checksums, as the engine computes them (dataplane/wire/): the TCP checksum over pseudo-header,
// header and payload (wire::tcp_checksum, DPDK's rte_raw_cksum underneath), the IPv4 header's, and
// what the send path does instead when the device offloads them: the pseudo-header sum in the
// checksum field and the mbuf's offload flags and header lengths (output.cpp, ipv4_output.cpp).
// Each iteration is one segment; its sequence number changes every time, as a real segment's
// would, so nothing can be computed once and reused. Time is per checksum (or per set-up).
//
//   tcp_software/payload:N        wire::tcp_checksum over a 20-byte header and N bytes of payload
//   dpdk_rte_ipv4_udptcp_cksum/payload:N  DPDK's own software TCP checksum, for comparison
//   tcp_parse/payload:1460/verify|verified_by_device
//                                 the receive side: TcpHeader::parse checking the checksum, or
//                                 trusting a device that did (the difference is the check)
//   ipv4_header_emit/software|by_device  Ipv4Header::emit with and without its checksum
//   tx_setup/software|offload/payload:N  everything the send path does for checksums on one
//                                 segment: in software, the TCP checksum and the IPv4 header with
//                                 its checksum; with offload, the pseudo-header sum, the IPv4
//                                 header without checksum, and the mbuf's ol_flags/l2/l3/l4_len
#include <benchmark/benchmark.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "bench/micro/micro_benchmarks.hpp"
#include "bench/micro/micro_environment.hpp"
#include "dataplane/wire/checksum.hpp"
#include "dataplane/wire/ethernet.hpp"
#include "dataplane/wire/ipv4.hpp"
#include "dataplane/wire/tcp.hpp"

namespace sluice::bench {

namespace {

const wire::Ipv4Address kSource = wire::Ipv4Address::from_octets(10, 0, 0, 2);
const wire::Ipv4Address kDestination = wire::Ipv4Address::from_octets(10, 0, 0, 1);
constexpr std::size_t kTcpHeader = wire::TcpHeader::kMinLength;
constexpr std::size_t kSeqOffset = 4;

// A TCP segment (header and payload) with a valid header and a patterned payload.
std::vector<std::byte> make_segment(std::size_t payload) {
    std::vector<std::byte> segment(kTcpHeader + payload);
    wire::TcpHeader th;
    th.source_port = 80;
    th.destination_port = 40000;
    th.flags = wire::tcp_flag::kAck;
    th.window = 65535;
    th.emit(segment);
    for (std::size_t i = kTcpHeader; i < segment.size(); ++i)
        segment[i] = std::byte(static_cast<std::uint8_t>(i * 7 + 3));
    return segment;
}

void next_seq(std::byte* tcp, std::uint32_t& seq) {
    wire::store_be32(tcp + kSeqOffset, wire::be32::from_host(seq++));
}

void tcp_software(benchmark::State& state, std::size_t payload) {
    std::vector<std::byte> segment = make_segment(payload);
    std::uint32_t seq = 0;
    for (auto _ : state) {
        next_seq(segment.data(), seq);
        benchmark::DoNotOptimize(wire::tcp_checksum(kSource, kDestination, segment));
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * segment.size()));
}

void dpdk_udptcp(benchmark::State& state, std::size_t payload) {
    // rte_ipv4_udptcp_cksum wants the IPv4 header in front of the segment.
    std::vector<std::byte> packet(wire::Ipv4Header::kMinLength);
    wire::Ipv4Header ip;
    ip.total_length = static_cast<std::uint16_t>(packet.size() + kTcpHeader + payload);
    ip.protocol = wire::ip_protocol::kTcp;
    ip.source = kSource;
    ip.destination = kDestination;
    ip.emit(packet);
    const std::vector<std::byte> segment = make_segment(payload);
    packet.insert(packet.end(), segment.begin(), segment.end());
    const auto* header = reinterpret_cast<const rte_ipv4_hdr*>(packet.data());
    std::byte* tcp = packet.data() + wire::Ipv4Header::kMinLength;
    std::uint32_t seq = 0;
    for (auto _ : state) {
        next_seq(tcp, seq);
        benchmark::DoNotOptimize(rte_ipv4_udptcp_cksum(header, tcp));
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * segment.size()));
}

void tcp_parse(benchmark::State& state, bool verify) {
    // A segment from the peer (kDestination) to us (kSource), its checksum right.
    std::vector<std::byte> segment = make_segment(1460);
    std::byte* field = segment.data() + wire::kTcpChecksumOffset;
    wire::store_be16(field, wire::tcp_checksum(kDestination, kSource, segment));
    const auto mode =
        verify ? wire::TransportChecksum::Verify : wire::TransportChecksum::VerifiedByDevice;
    std::uint32_t seq = 0;
    bool all_parsed = true;
    for (auto _ : state) {
        // The next segment's sequence number, and the checksum patched for it (RFC 1624, a few ns
        // in both modes): the check must not be of the same bytes every time.
        const wire::be16 old_high = wire::load_be16(segment.data() + kSeqOffset);
        const wire::be16 old_low = wire::load_be16(segment.data() + kSeqOffset + 2);
        next_seq(segment.data(), seq);
        wire::be16 sum = wire::load_be16(field);
        sum = wire::checksum_adjust(sum, old_high, wire::load_be16(segment.data() + kSeqOffset));
        sum = wire::checksum_adjust(sum, old_low, wire::load_be16(segment.data() + kSeqOffset + 2));
        wire::store_be16(field, sum);
        const auto th = wire::TcpHeader::parse(segment, kDestination, kSource, mode);
        all_parsed &= th.has_value();
        benchmark::DoNotOptimize(th);
    }
    if (!all_parsed)
        state.SkipWithError("a segment did not parse: the benchmark measured a drop");
}

void ipv4_emit(benchmark::State& state, bool software) {
    std::array<std::byte, wire::Ipv4Header::kMinLength> out{};
    wire::Ipv4Header ip;
    ip.total_length = 1500;
    ip.protocol = wire::ip_protocol::kTcp;
    ip.dont_fragment = true;
    ip.source = kSource;
    ip.destination = kDestination;
    const auto mode =
        software ? wire::HeaderChecksum::Verify : wire::HeaderChecksum::VerifiedByDevice;
    for (auto _ : state) {
        ++ip.identification;  // as write_ipv4_header does per packet
        ip.emit(out, mode);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
}

// One segment's checksum work on the send path, on an mbuf laid out as the stack leaves it:
// Ethernet and IPv4 headers in front of the TCP segment.
void tx_setup(benchmark::State& state, bool offload, std::size_t payload) {
    rte_mbuf* m = rte_pktmbuf_alloc(packet_pool());
    if (m == nullptr) {
        state.SkipWithError("the mbuf pool is empty");
        return;
    }
    const std::vector<std::byte> segment = make_segment(payload);
    constexpr std::size_t kLink = wire::EthernetHeader::kUntaggedLength;
    constexpr std::size_t kIp = wire::Ipv4Header::kMinLength;
    auto* frame = reinterpret_cast<std::byte*>(rte_pktmbuf_append(m, kLink + kIp + segment.size()));
    std::memcpy(frame + kLink + kIp, segment.data(), segment.size());
    std::byte* tcp = frame + kLink + kIp;
    const std::span<std::byte> tcp_bytes(tcp, segment.size());
    wire::Ipv4Header ip;
    ip.total_length = static_cast<std::uint16_t>(kIp + segment.size());
    ip.protocol = wire::ip_protocol::kTcp;
    ip.dont_fragment = true;
    ip.source = kSource;
    ip.destination = kDestination;
    std::uint32_t seq = 0;
    for (auto _ : state) {
        next_seq(tcp, seq);
        wire::store_be16(tcp + wire::kTcpChecksumOffset, wire::be16{});
        ++ip.identification;
        if (offload) {
            // output.cpp, send_segment()
            m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
            m->l4_len = kTcpHeader;
            wire::store_be16(
                tcp + wire::kTcpChecksumOffset,
                wire::tcp_pseudo_header_checksum(kSource, kDestination,
                                                 static_cast<std::uint16_t>(segment.size())));
            // ipv4_output.cpp, write_ipv4_header() and send_transport()
            ip.emit({frame + kLink, kIp}, wire::HeaderChecksum::VerifiedByDevice);
            m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
            m->l3_len = kIp;
        } else {
            wire::store_be16(tcp + wire::kTcpChecksumOffset,
                             wire::tcp_checksum(kSource, kDestination, tcp_bytes));
            ip.emit({frame + kLink, kIp}, wire::HeaderChecksum::Verify);
        }
        m->l2_len = kLink;  // transmit_to()
        benchmark::DoNotOptimize(m);
        benchmark::ClobberMemory();
    }
    rte_pktmbuf_free(m);
}

}  // namespace

void register_checksum_benchmarks() {
    for (const std::size_t payload : {64u, 1460u}) {
        const std::string size = "/payload:" + std::to_string(payload);
        with_min(benchmark::RegisterBenchmark(("checksum/tcp_software" + size).c_str(),
                                              tcp_software, payload));
        with_min(benchmark::RegisterBenchmark(
            ("checksum/dpdk_rte_ipv4_udptcp_cksum" + size).c_str(), dpdk_udptcp, payload));
    }
    with_min(
        benchmark::RegisterBenchmark("checksum/tcp_parse/payload:1460/verify", tcp_parse, true));
    with_min(benchmark::RegisterBenchmark("checksum/tcp_parse/payload:1460/verified_by_device",
                                          tcp_parse, false));
    with_min(benchmark::RegisterBenchmark("checksum/ipv4_header_emit/software", ipv4_emit, true));
    with_min(benchmark::RegisterBenchmark("checksum/ipv4_header_emit/by_device", ipv4_emit, false));
    for (const std::size_t payload : {64u, 1460u}) {
        const std::string size = "/payload:" + std::to_string(payload);
        with_min(benchmark::RegisterBenchmark(("checksum/tx_setup/software" + size).c_str(),
                                              tx_setup, false, payload));
        with_min(benchmark::RegisterBenchmark(("checksum/tx_setup/offload" + size).c_str(),
                                              tx_setup, true, payload));
    }
}

}  // namespace sluice::bench
