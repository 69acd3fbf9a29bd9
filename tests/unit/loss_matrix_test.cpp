// The loss matrix: two engines (tests/support/lossy_pair.hpp) move data through FaultyLinks that
// lose, reorder, duplicate and corrupt, with one flow or 64, with SACK or without, and every case
// must deliver every byte intact, end both connections cleanly, and finish within a simulated-time
// bound for its loss rate.
//
// Each case records one line (its name, flows finished, the slowest completion, retransmissions
// and timeouts) in GoogleTest's JSON output, and prints it when SLUICE_LOSS_REPORT is set. A
// failing case prints its whole description as SLUICE_LOSS_CASE="..."; with that variable set,
// LossMatrixReplay.ReplayOneCase runs that one case (filter the run to it, as below), and
// SLUICE_LOSS_TRACE=FILE (- for stdout) adds a trace of every segment sent and received:
//   SLUICE_LOSS_CASE="flows=64,bytes=32768,sack=on,limit=120s;a-to-b=loss=0.2,...;b-to-a=..."
//   build/tests/unit_tests --gtest_filter='LossMatrixReplay.ReplayOneCase'   (in one command line)
#include <gtest/gtest.h>

#include <rte_mbuf.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/wire/checksum.hpp"
#include "dataplane/wire/ethernet.hpp"
#include "dataplane/wire/ipv4.hpp"
#include "dataplane/wire/tcp.hpp"
#include "tests/support/eal_environment.hpp"
#include "tests/support/frame_builder.hpp"
#include "tests/support/lossy_pair.hpp"
#include "tests/support/ring_port.hpp"
#include "tests/support/sack_stripper.hpp"
#include "tests/support/test_link.hpp"

namespace sluice::test {
namespace {

using std::chrono::seconds;

// --- a case, and its text form ---

struct LossCase {
    TransferSpec spec;
    std::string name;  // for the test's name: letters, digits and underscores only

    // Everything needed to run it again (see the file comment).
    std::string replay() const {
        return "flows=" + std::to_string(spec.flows) +
               ",bytes=" + std::to_string(spec.bytes_per_flow) +
               ",sack=" + (spec.sack ? "on" : "off") + ",limit=" +
               std::to_string(std::chrono::duration_cast<seconds>(spec.time_limit).count()) +
               "s;a-to-b=" + spec.a_to_b.to_string() + ";b-to-a=" + spec.b_to_a.to_string();
    }
};

// GoogleTest prints a parameter of a failed case: its name, not its bytes.
void PrintTo(const LossCase& c, std::ostream* os) {
    *os << c.name;
}

std::optional<LossCase> parse_case(const std::string& text, std::string& error) {
    LossCase c;
    c.name = "replay";
    std::size_t start = 0;
    int section = 0;
    while (start <= text.size()) {
        const std::size_t end = std::min(text.find(';', start), text.size());
        const std::string part = text.substr(start, end - start);
        start = end + 1;
        if (section++ == 0) {
            std::size_t at = 0;
            while (at <= part.size()) {
                const std::size_t comma = std::min(part.find(',', at), part.size());
                const std::string item = part.substr(at, comma - at);
                at = comma + 1;
                const std::size_t eq = item.find('=');
                const std::string key = item.substr(0, eq);
                const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
                if (key == "flows") {
                    c.spec.flows = static_cast<std::uint32_t>(std::stoul(value));
                } else if (key == "bytes") {
                    c.spec.bytes_per_flow = std::stoull(value);
                } else if (key == "sack" && (value == "on" || value == "off")) {
                    c.spec.sack = value == "on";
                } else if (key == "limit" && !value.empty() && value.back() == 's') {
                    c.spec.time_limit = seconds(std::stoul(value.substr(0, value.size() - 1)));
                } else {
                    error = "'" + item + "': expected flows=N, bytes=N, sack=on|off, limit=Ns";
                    return std::nullopt;
                }
            }
            continue;
        }
        const bool a_to_b = part.rfind("a-to-b=", 0) == 0;
        if (!a_to_b && part.rfind("b-to-a=", 0) != 0) {
            error = "'" + part + "': expected a-to-b=PROFILE or b-to-a=PROFILE";
            return std::nullopt;
        }
        auto profile = drivers::parse_fault_profile(part.substr(7));
        if (!profile) {
            error = part.substr(0, 6) + ": " + profile.error();
            return std::nullopt;
        }
        (a_to_b ? c.spec.a_to_b : c.spec.b_to_a) = *profile;
    }
    return c;
}

// --- the matrix ---

// The one-way delay: a 2 ms round trip, short enough for quick cases and long enough that a whole
// window is in flight.
constexpr auto kDelay = std::chrono::milliseconds(1);
// A frame held back is held up to one more round trip: later frames overtake it by up to a
// window, enough for three duplicate ACKs and a spurious fast retransmit.
constexpr auto kReorderDelay = std::chrono::milliseconds(2);
constexpr std::uint64_t kBytesOneFlow = 256 * 1024;
constexpr std::uint64_t kBytesPerFlowOfMany = 32 * 1024;

// How long a case may take, by its loss rate. A TCP that recovers as RFC 6298, 6675 and 8985 say
// finishes far sooner; these bounds are there to tell "slow" from "stalled": they leave room for
// a handshake whose SYN or SYN-ACK is lost several times in a row (1 + 2 + 4 + 8 s of backoff, at
// 20% loss each way once or more in 64 flows) and for a tail segment whose retransmissions are
// lost again and again, with the RTO doubling each time.
Nanos time_bound(double loss) {
    if (loss == 0)
        return seconds(5);
    if (loss <= 0.01)
        return seconds(15);
    if (loss <= 0.05)
        return seconds(30);
    if (loss <= 0.10)
        return seconds(60);
    // At 20 % each way, a retransmission or its ACK is lost more than a third of the time, and
    // RFC 6298 5.5 doubles the RTO after each such loss (Linux does the same, up to 120 s): one
    // flow in a few thousand meets five or six losses in a row and waits 25-50 s for one timer
    // (the slowest case here took 157 s, 64 flows without SACK). The bound tells a stall from
    // that.
    return seconds(300);
}

std::string percent(double p) {
    char text[16];
    std::snprintf(text, sizeof text, "%g", p * 100);
    std::string s = text;
    for (char& ch : s) {
        if (ch == '.')
            ch = 'p';
    }
    return s;
}

LossCase make_case(double loss, double reorder, double dup, double corrupt, std::uint64_t seed,
                   std::uint32_t flows, bool sack) {
    LossCase c;
    drivers::FaultProfile p;
    p.loss = loss;
    p.reorder = reorder;
    p.reorder_delay = reorder > 0 ? Nanos(kReorderDelay) : Nanos{0};
    p.duplicate = dup;
    p.corrupt = corrupt;
    p.delay = kDelay;
    p.seed = seed;
    c.spec.a_to_b = p;
    p.seed = seed + 1000;  // the way back draws other fates
    c.spec.b_to_a = p;
    c.spec.flows = flows;
    c.spec.bytes_per_flow = flows == 1 ? kBytesOneFlow : kBytesPerFlowOfMany;
    c.spec.sack = sack;
    c.spec.time_limit = time_bound(loss);
    c.name = "loss" + percent(loss) + "_reorder" + percent(reorder) + "_dup" + percent(dup) +
             "_corrupt" + percent(corrupt) + "_flows" + std::to_string(flows) +
             (sack ? "_sack" : "_nosack") + "_seed" + std::to_string(seed);
    return c;
}

constexpr double kLosses[] = {0, 0.01, 0.05, 0.10, 0.20};
constexpr double kReorders[] = {0, 0.10};
constexpr double kDups[] = {0, 0.01};
constexpr double kCorrupts[] = {0, 0.001};
// Each case runs with each seed: the same impairments, other fates. Twenty of them: 3200 cases
// take about a minute on this machine's two cores when it is quiet, two under ASan.
constexpr std::uint64_t kSeeds = 20;

std::vector<LossCase> matrix() {
    std::vector<LossCase> cases;
    for (const double loss : kLosses)
        for (const std::uint32_t flows : {1u, 64u})
            for (const bool sack : {true, false})
                for (const double reorder : kReorders)
                    for (const double dup : kDups)
                        for (const double corrupt : kCorrupts)
                            for (std::uint64_t seed = 1; seed <= kSeeds; ++seed)
                                cases.push_back(
                                    make_case(loss, reorder, dup, corrupt, seed, flows, sack));
    return cases;
}

const char* replay_request() {
    return std::getenv("SLUICE_LOSS_CASE");
}

void run_case(const LossCase& c) {
    const auto started = std::chrono::steady_clock::now();
    const TransferResult r = run_transfer(c.spec);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    std::uint32_t ok = 0;
    for (const FlowResult& f : r.flows)
        ok += f.ok(c.spec.bytes_per_flow);
    char line[320];
    std::snprintf(line, sizeof line,
                  "%-58s %s %2u/%-2u ok, slowest %8.3f s, ran %8.3f s simulated, %6.2f s wall; "
                  "retransmitted A %llu B %llu, timeouts A %llu B %llu",
                  c.name.c_str(), ok == r.flows.size() ? "PASS" : "FAIL", ok,
                  static_cast<unsigned>(r.flows.size()),
                  std::chrono::duration<double>(r.slowest()).count(),
                  std::chrono::duration<double>(r.elapsed).count(), wall,
                  static_cast<unsigned long long>(r.a.tcp_retransmitted_segments),
                  static_cast<unsigned long long>(r.b.tcp_retransmitted_segments),
                  static_cast<unsigned long long>(r.a.tcp_timeouts),
                  static_cast<unsigned long long>(r.b.tcp_timeouts));
    // In the JSON report always (--gtest_output=json:...); on stdout when asked for, one line per
    // case, for a table of the whole matrix.
    ::testing::Test::RecordProperty("outcome", line);
    if (std::getenv("SLUICE_LOSS_REPORT") != nullptr) {
        std::printf("[ loss case ] %s\n", line);
        std::fflush(stdout);
    }

    ASSERT_EQ(r.flows.size(), c.spec.flows);
    // Every flow's problems, but in one message: 64 copies of the summary would hide the first.
    std::string problems;
    std::uint32_t failed = 0;
    for (std::size_t i = 0; i < r.flows.size(); ++i) {
        const FlowResult& f = r.flows[i];
        const std::uint64_t bytes = c.spec.bytes_per_flow;
        std::string these;
        if (!f.finished) {
            these +=
                " did not finish within " +
                std::to_string(std::chrono::duration_cast<seconds>(c.spec.time_limit).count()) +
                " s simulated;";
        }
        if (!f.intact())
            these += " delivered a wrong byte;";
        if (f.server_received != bytes || f.received != bytes) {
            these += " the server read " + std::to_string(f.server_received) + " and the client " +
                     std::to_string(f.received) + " of " + std::to_string(bytes) + " bytes;";
        }
        if (f.client_closed && *f.client_closed != api::CloseReason::Closed) {
            these += " the client's connection ended: " +
                     std::string(api::close_reason_name(*f.client_closed)) + ";";
        }
        if (f.server_closed && *f.server_closed != api::CloseReason::Closed) {
            these += " the server's connection ended: " +
                     std::string(api::close_reason_name(*f.server_closed)) + ";";
        }
        if (these.empty())
            continue;
        if (++failed <= 3)
            problems += "flow " + std::to_string(i) + ":" + these + "\n";
    }
    if (r.mbufs_leaked != 0)
        problems += std::to_string(r.mbufs_leaked) + " mbufs leaked\n";
    if (!c.spec.sack) {
        // The middlebox took SACK-permitted out of every SYN, so neither side may use SACK.
        if (r.syns_stripped < c.spec.flows)
            problems += "fewer SYNs stripped of SACK-permitted than connections\n";
        if (r.a.tcp_sack_blocks_sent + r.b.tcp_sack_blocks_sent != 0)
            problems += "SACK blocks sent on connections that did not agree to SACK\n";
    } else {
        // A receiver that held data out of order told the sender about it (RFC 2018 4).
        for (const WorkerCounters* e : {&r.a, &r.b}) {
            if (e->tcp_out_of_order_segments > 0 && e->tcp_sack_blocks_sent == 0)
                problems += "data arrived out of order and no SACK block was sent\n";
        }
    }
    if (!problems.empty()) {
        ADD_FAILURE() << failed << " of " << r.flows.size() << " flows failed\n"
                      << problems << "SLUICE_LOSS_CASE=\"" << c.replay() << "\"\n"
                      << r.summary();
    }
}

class LossMatrix : public ::testing::TestWithParam<LossCase> {};

TEST_P(LossMatrix, DeliversEveryByteIntactInTime) {
    run_case(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Cases, LossMatrix, ::testing::ValuesIn(matrix()),
                         [](const ::testing::TestParamInfo<LossCase>& info) {
                             return info.param.name;
                         });

// Runs the case SLUICE_LOSS_CASE names; without it, the line a failure of one matrix case would
// print, so that the way back from a failure to its replay is itself tested.
TEST(LossMatrixReplay, ReplayOneCase) {
    const char* requested = replay_request();
    const std::string text = requested != nullptr
                                 ? std::string(requested)
                                 : make_case(0.05, 0.1, 0.01, 0.001, 7, 1, true).replay();
    std::string error;
    auto c = parse_case(text, error);
    ASSERT_TRUE(c.has_value()) << "SLUICE_LOSS_CASE: " << error;
    // SLUICE_LOSS_TRACE=FILE (or - for stdout) writes every segment sent and received.
    std::FILE* trace = nullptr;
    if (const char* path = std::getenv("SLUICE_LOSS_TRACE")) {
        trace = std::string_view(path) == "-" ? stdout : std::fopen(path, "w");
        ASSERT_NE(trace, nullptr) << "SLUICE_LOSS_TRACE: cannot write " << path;
        c->spec.trace = trace;
    }
    run_case(*c);
    if (trace != nullptr && trace != stdout)
        std::fclose(trace);
}

TEST(LossMatrixReplay, CaseTextReadsBack) {
    const LossCase c = make_case(0.05, 0.1, 0.01, 0.001, 3, 64, false);
    std::string error;
    const auto again = parse_case(c.replay(), error);
    ASSERT_TRUE(again.has_value()) << error;
    EXPECT_EQ(again->spec.a_to_b, c.spec.a_to_b);
    EXPECT_EQ(again->spec.b_to_a, c.spec.b_to_a);
    EXPECT_EQ(again->spec.flows, c.spec.flows);
    EXPECT_EQ(again->spec.bytes_per_flow, c.spec.bytes_per_flow);
    EXPECT_EQ(again->spec.sack, c.spec.sack);
    EXPECT_EQ(again->spec.time_limit, c.spec.time_limit);
    EXPECT_FALSE(parse_case("flows=1;a-to-b=lose=0.1", error).has_value());
    EXPECT_NE(error.find("lose"), std::string::npos) << error;
}

// --- the middlebox that turns SACK off ---

TEST(SackStripper, RewritesSackPermittedToNopsAndKeepsTheChecksumRight) {
    const unsigned before = mbufs_in_use();
    wire::TcpHeader th;
    th.source_port = 40000;
    th.destination_port = 80;
    th.seq = tcp::SeqNum(1234);
    th.flags = wire::tcp_flag::kSyn;
    th.window = 65535;
    th.options.mss = 1460;
    th.options.sack_permitted = true;
    th.options.window_scale = 7;
    const wire::EthernetHeader eth{kEngineMac, kPeerMac, std::nullopt, wire::ethertype::kIpv4};
    rte_mbuf* m = make_mbuf(tcp_frame(eth, kPeerIp, kEngineIp, th, {}));
    ASSERT_TRUE(strip_sack_permitted(m));
    const auto bytes = bytes_of(m);
    const std::span<const std::byte> ip(bytes.data() + eth.length(), bytes.size() - eth.length());
    const auto iph = wire::Ipv4Header::parse(ip);
    ASSERT_TRUE(iph.has_value());
    const auto parsed =
        wire::TcpHeader::parse(ip.subspan(iph->header_length, iph->payload_length()), kPeerIp,
                               kEngineIp, wire::TransportChecksum::Verify);
    ASSERT_TRUE(parsed.has_value()) << "the checksum no longer matches";
    EXPECT_FALSE(parsed->options.sack_permitted);
    EXPECT_EQ(parsed->options.mss, 1460);
    EXPECT_EQ(parsed->options.window_scale, 7);
    EXPECT_FALSE(strip_sack_permitted(m)) << "nothing left to strip";
    rte_pktmbuf_free(m);

    // Not a SYN: left alone.
    th.flags = wire::tcp_flag::kAck;
    rte_mbuf* ack = make_mbuf(tcp_frame(eth, kPeerIp, kEngineIp, th, {}));
    const auto ack_bytes = bytes_of(ack);
    EXPECT_FALSE(strip_sack_permitted(ack));
    EXPECT_EQ(bytes_of(ack), ack_bytes);
    rte_pktmbuf_free(ack);
    EXPECT_EQ(mbufs_in_use(), before);
}

}  // namespace
}  // namespace sluice::test
