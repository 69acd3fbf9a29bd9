// The engine's command line: what it accepts, and that every refusal names the flag, the value and
// what is allowed.
#include "control/config/options.hpp"

#include <gtest/gtest.h>

namespace sluice::control {
namespace {

// The built-in services, as the sluice binary registers them.
const std::vector<std::string> kServices{"echo", "discard", "source", "http"};

using Args = std::vector<std::string>;

std::string error_of(const Args& args) {
    auto r = parse_options(args, kServices);
    EXPECT_FALSE(r.has_value());
    return r.has_value() ? std::string{} : r.error();
}

TEST(Options, MinimalCommandLine) {
    auto r = parse_options({"--addr", "10.0.0.2/24"}, kServices);
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->address.address, wire::Ipv4Address::from_octets(10, 0, 0, 2));
    EXPECT_EQ(r->address.prefix_length, 24);
    EXPECT_FALSE(r->gateway.has_value());
    EXPECT_FALSE(r->vlan_id.has_value());
    EXPECT_TRUE(r->offloads);
    EXPECT_EQ(r->tcp_checksums, TcpChecksums::Full);
    EXPECT_EQ(r->duration.count(), 0);
}

TEST(Options, EveryFlag) {
    auto r = parse_options(
        {"--addr", "192.168.7.9/16", "--gateway", "192.168.0.1", "--port", "net_tap0,iface=x",
         "--vlan", "42", "--mtu", "9000", "--mbufs", "16383", "--arp-entries", "4096",
         "--arp-timeout", "60", "--no-offloads", "--duration", "5"},
        kServices);
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->gateway, wire::Ipv4Address::from_octets(192, 168, 0, 1));
    EXPECT_EQ(r->port, "net_tap0,iface=x");
    EXPECT_EQ(r->vlan_id, 42);
    EXPECT_EQ(r->mtu, 9000);
    EXPECT_EQ(r->mbufs, 16383u);
    EXPECT_EQ(r->neighbor_capacity, 4096u);
    EXPECT_EQ(r->neighbor_timeout.count(), 60);
    EXPECT_FALSE(r->offloads);
    EXPECT_EQ(r->duration.count(), 5);
}

TEST(Options, TcpChecksumModes) {
    for (const auto& [text, mode] : {std::pair{"full", TcpChecksums::Full},
                                     std::pair{"trust-received", TcpChecksums::TrustReceived},
                                     std::pair{"off", TcpChecksums::Off}}) {
        auto r = parse_options({"--addr", "10.0.0.2/24", "--tcp-checksums", text}, kServices);
        ASSERT_TRUE(r.has_value()) << r.error();
        EXPECT_EQ(r->tcp_checksums, mode) << text;
    }
}

TEST(Options, NewFlagsHaveTheirDefaults) {
    auto r = parse_options({"--addr", "10.0.0.2/24"}, kServices);
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_TRUE(r->config_file.empty());
    EXPECT_EQ(r->workers, 1u);
    EXPECT_TRUE(r->local_addresses.empty());
    EXPECT_EQ(r->ephemeral_ports.low, 49152);
    EXPECT_EQ(r->ephemeral_ports.high, 65535);
    EXPECT_EQ(r->steering, Steering::Auto);
    EXPECT_EQ(r->idle, IdleMode::Poll);
    EXPECT_EQ(r->send_buffer, 262144u);
    EXPECT_EQ(r->receive_buffer, 262144u);
    EXPECT_EQ(r->initial_rto.count(), 1000);
    EXPECT_EQ(r->out_of_order_worker_segments, 0u);
}

TEST(Options, NewFlags) {
    auto r = parse_options(
        {"--addr", "10.0.0.2/24", "--workers", "64", "--ephemeral-ports", "1024-1087", "--steering",
         "rss", "--send-buffer", "4096", "--receive-buffer", "67108864", "--initial-rto", "60000",
         "--local-addr", "10.0.0.3", "--local-addr", "192.0.2.1"},
        kServices);
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->workers, 64u);
    EXPECT_EQ(r->ephemeral_ports.low, 1024);
    EXPECT_EQ(r->ephemeral_ports.high, 1087);
    EXPECT_EQ(r->ephemeral_ports.size(), 64u);
    EXPECT_EQ(r->steering, Steering::Rss);
    EXPECT_EQ(r->send_buffer, 4096u);
    EXPECT_EQ(r->receive_buffer, 67108864u);
    EXPECT_EQ(r->initial_rto.count(), 60000);
    ASSERT_EQ(r->local_addresses.size(), 2u);
    EXPECT_EQ(r->local_addresses[1], wire::Ipv4Address::from_octets(192, 0, 2, 1));

    r = parse_options(
        {"--addr", "10.0.0.2/24", "--steering", "software", "--idle", "adaptive", "--initial-rto",
         "200", "--ephemeral-ports", "65472-65535", "--ooo-worker-segments", "4194303"},
        kServices);
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->out_of_order_worker_segments, 4194303u);
    EXPECT_EQ(r->steering, Steering::Software);
    EXPECT_EQ(r->idle, IdleMode::Adaptive);
    EXPECT_EQ(r->initial_rto.count(), 200);
    EXPECT_EQ(r->ephemeral_ports.size(), 64u);
}

TEST(Options, NewFlagsRefuseBadValuesByName) {
    const auto e = [](const char* flag, const char* value) {
        return error_of({"--addr", "10.0.0.2/24", flag, value});
    };
    EXPECT_EQ(e("--workers", "0"), "--workers '0': expected a whole number from 1 to 64");
    EXPECT_EQ(e("--workers", "65"), "--workers '65': expected a whole number from 1 to 64");
    const std::string ports =
        "': expected LO-HI, ports from 1024 to 65535 with LO <= HI and at least 64 of them, e.g. "
        "49152-65535";
    for (const char* bad : {"1023-2000", "50000-40000", "60000-60062", "60000", "60000-", "-60000",
                            "60000-70000", "a-b", "49152-65535x"}) {
        EXPECT_EQ(e("--ephemeral-ports", bad), "--ephemeral-ports '" + std::string(bad) + ports);
    }
    EXPECT_EQ(e("--steering", "RSS"), "--steering 'RSS': expected auto, rss or software");
    EXPECT_EQ(e("--idle", "sleep"), "--idle 'sleep': expected poll or adaptive");
    EXPECT_EQ(e("--tcp-checksums", "none"),
              "--tcp-checksums 'none': expected full, trust-received or off");
    EXPECT_EQ(e("--send-buffer", "4095"),
              "--send-buffer '4095': expected bytes from 4096 to 67108864");
    EXPECT_EQ(e("--receive-buffer", "67108865"),
              "--receive-buffer '67108865': expected bytes from 4096 to 67108864");
    EXPECT_EQ(e("--receive-buffer", "256k"),
              "--receive-buffer '256k': expected bytes from 4096 to 67108864");
    EXPECT_EQ(e("--initial-rto", "199"),
              "--initial-rto '199': expected milliseconds from 200 to 60000");
    EXPECT_EQ(e("--initial-rto", "60001"),
              "--initial-rto '60001': expected milliseconds from 200 to 60000");
    EXPECT_EQ(e("--ooo-worker-segments", "4194304"),
              "--ooo-worker-segments '4194304': expected segments from 0 (half the worker's share "
              "of the mbuf pool) to 4194303");
    EXPECT_EQ(e("--local-addr", "10.0.0"),
              "--local-addr '10.0.0': expected an IPv4 address, e.g. 10.0.0.3");
    EXPECT_EQ(e("--local-addr", "224.0.0.1"),
              "--local-addr '224.0.0.1': must be a unicast, non-loopback address");
    EXPECT_EQ(e("--local-addr", "10.0.0.2"),
              "--local-addr '10.0.0.2': is the --addr address already");
    EXPECT_EQ(
        error_of({"--addr", "10.0.0.2/24", "--local-addr", "10.0.0.3", "--local-addr", "10.0.0.3"}),
        "--local-addr '10.0.0.3': already given");
    EXPECT_EQ(error_of({"--addr", "10.0.0.2/24", "--workers"}),
              "--workers needs a value (see --help)");
}

TEST(Options, AddressIsRequired) {
    EXPECT_NE(error_of({}).find("--addr is required"), std::string::npos);
}

TEST(Options, BadAddressNamesFlagValueAndForm) {
    const std::string e = error_of({"--addr", "10.0.0.300/24"});
    EXPECT_NE(e.find("--addr"), std::string::npos);
    EXPECT_NE(e.find("10.0.0.300/24"), std::string::npos);
    EXPECT_NE(e.find("e.g. 10.0.0.2/24"), std::string::npos);
    for (const char* bad :
         {"10.0.0.2", "10.0.0.2/33", "10.0.0.2/", "/24", "x/24", "10.0.0.2/24x"}) {
        EXPECT_NE(error_of({"--addr", bad}).find(bad), std::string::npos) << bad;
    }
}

TEST(Options, NonUnicastAddressesAreRefused) {
    for (const char* bad :
         {"0.0.0.0/24", "224.0.0.1/24", "255.255.255.255/24", "127.0.0.2/8", "10.0.0.2/0"}) {
        EXPECT_NE(error_of({"--addr", bad}).find("unicast"), std::string::npos) << bad;
    }
}

TEST(Options, GatewayMustBeOnTheSubnet) {
    const std::string e = error_of({"--addr", "10.0.0.2/24", "--gateway", "10.0.1.1"});
    EXPECT_NE(e.find("--gateway '10.0.1.1'"), std::string::npos) << e;
    EXPECT_NE(e.find("10.0.0.2/24"), std::string::npos) << e;
    EXPECT_FALSE(
        parse_options({"--addr", "10.0.0.2/24", "--gateway", "10.0.0.2"}, kServices).has_value());
}

TEST(Options, NumbersOutOfRangeNameTheirRange) {
    EXPECT_NE(error_of({"--addr", "10.0.0.2/24", "--vlan", "4095"}).find("1 to 4094"),
              std::string::npos);
    EXPECT_NE(error_of({"--addr", "10.0.0.2/24", "--vlan", "0"}).find("--vlan '0'"),
              std::string::npos);
    EXPECT_NE(error_of({"--addr", "10.0.0.2/24", "--mbufs", "12"}).find("1023"), std::string::npos);
    EXPECT_NE(error_of({"--addr", "10.0.0.2/24", "--mtu", "-5"}).find("--mtu '-5'"),
              std::string::npos);
    EXPECT_NE(error_of({"--addr", "10.0.0.2/24", "--duration", "1s"}).find("--duration '1s'"),
              std::string::npos);
}

TEST(Options, UnknownOptionAndMissingValue) {
    EXPECT_NE(error_of({"--addr", "10.0.0.2/24", "--bogus", "1"}).find("unknown option '--bogus'"),
              std::string::npos);
    EXPECT_NE(error_of({"--addr"}).find("--addr needs a value"), std::string::npos);
    EXPECT_NE(error_of({"stray"}).find("unexpected argument 'stray'"), std::string::npos);
}

TEST(Options, UsageMentionsEveryFlag) {
    const std::string u = usage("sluice");
    for (const char* flag : {"--addr", "--gateway", "--port", "--vlan", "--mtu", "--mbufs",
                             "--arp-entries", "--arp-timeout", "--no-offloads", "--duration"}) {
        EXPECT_NE(u.find(flag), std::string::npos) << flag;
    }
    EXPECT_NE(u.find("--config FILE"), std::string::npos);
    for (const Setting& s : settings()) {
        EXPECT_NE(u.find("  " + std::string(s.flag) + " "), std::string::npos) << s.flag;
    }
}

}  // namespace
}  // namespace sluice::control
