// The config file: every key reaches its setting, the command line overrides it, and every refusal
// reads FILE:LINE: [section] key 'value': what is allowed.
#include "control/config/config_file.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "control/config/options.hpp"

namespace sluice::control {
namespace {

// The built-in services, as the sluice binary registers them.
const std::vector<std::string> kServices{"echo", "discard", "source", "http"};

namespace fs = std::filesystem;
using Args = std::vector<std::string>;

// A config file that lives as long as the test.
class TempFile {
  public:
    explicit TempFile(const std::string& text) {
        static int counter = 0;
        path_ = (fs::temp_directory_path() / ("sluice-config-test-" + std::to_string(getpid()) +
                                              "-" + std::to_string(++counter) + ".ini"))
                    .string();
        std::ofstream(path_, std::ios::binary) << text;
    }
    ~TempFile() { fs::remove(path_); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

std::string error_of(const Args& args) {
    auto r = parse_options(args, kServices);
    EXPECT_FALSE(r.has_value());
    return r.has_value() ? std::string{} : r.error();
}

// The refusal for a file of `text`, with the path replaced by "FILE".
std::string file_error(const std::string& text) {
    TempFile f(text);
    std::string e = error_of({"--config", f.path()});
    for (std::size_t at; (at = e.find(f.path())) != std::string::npos;) {
        e.replace(at, f.path().size(), "FILE");
    }
    return e;
}

// deploy/sluice.ini, found from this file's path: as the compiler saw it (absolute, or relative
// to the build directory, which holds tests/unit_tests) or relative to the current directory.
fs::path example_config() {
    const fs::path self = __FILE__;
    const fs::path relative = fs::path("..") / ".." / "deploy" / "sluice.ini";
    std::vector<fs::path> candidates;
    if (self.is_absolute())
        candidates.push_back(self.parent_path() / relative);
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec)
        candidates.push_back(exe.parent_path().parent_path() / self.parent_path() / relative);
    candidates.push_back(fs::current_path() / self.parent_path() / relative);
    candidates.push_back(fs::current_path() / "deploy" / "sluice.ini");
    for (const fs::path& p : candidates) {
        if (fs::is_regular_file(p))
            return p.lexically_normal();
    }
    return {};
}

constexpr const char* kEveryKey = R"(; every key, none at its default
[engine]
addr = 192.168.7.9/16
gateway = 192.168.0.1
port = net_tap0,iface=x
vlan = 42
mtu = 9000
mbufs = 16383
workers = 4
duration = 5
idle = adaptive
offloads = no
tcp-checksums = trust-received
local-addr = 192.168.7.10
local-addr = 192.168.7.11

[arp]
entries = 4096
timeout = 60

[tcp]
max-connections = 1024
msl = 5
nagle = no
keepalive = yes
send-buffer = 65536
receive-buffer = 1048576
initial-rto = 300
congestion = newreno
sack = no
out-of-order-segments = 300
out-of-order-worker-segments = 5000
ephemeral-ports = 20000-20063
steering = software

[services]
serve = echo:7
serve = http:8080
http-body = 77
source-bytes = 99

[client]
connect = 192.168.0.5:9
bytes = 12345
expect = 777
connections = 2000
parallel = 50
)";

TEST(ConfigFile, EveryKeyReachesItsSetting) {
    TempFile f(kEveryKey);
    auto r = parse_options({"--config", f.path()}, kServices);
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->config_file, f.path());
    EXPECT_EQ(r->address.address, wire::Ipv4Address::from_octets(192, 168, 7, 9));
    EXPECT_EQ(r->address.prefix_length, 16);
    EXPECT_EQ(r->gateway, wire::Ipv4Address::from_octets(192, 168, 0, 1));
    EXPECT_EQ(r->port, "net_tap0,iface=x");
    EXPECT_EQ(r->vlan_id, 42);
    EXPECT_EQ(r->mtu, 9000);
    EXPECT_EQ(r->mbufs, 16383u);
    EXPECT_EQ(r->workers, 4u);
    EXPECT_EQ(r->duration.count(), 5);
    EXPECT_EQ(r->idle, IdleMode::Adaptive);
    EXPECT_FALSE(r->offloads);
    EXPECT_EQ(r->tcp_checksums, TcpChecksums::TrustReceived);
    ASSERT_EQ(r->local_addresses.size(), 2u);
    EXPECT_EQ(r->local_addresses[0], wire::Ipv4Address::from_octets(192, 168, 7, 10));
    EXPECT_EQ(r->local_addresses[1], wire::Ipv4Address::from_octets(192, 168, 7, 11));
    EXPECT_EQ(r->neighbor_capacity, 4096u);
    EXPECT_EQ(r->neighbor_timeout.count(), 60);
    EXPECT_EQ(r->max_connections, 1024u);
    EXPECT_EQ(r->msl.count(), 5);
    EXPECT_TRUE(r->nodelay);
    EXPECT_TRUE(r->keepalive);
    EXPECT_EQ(r->send_buffer, 65536u);
    EXPECT_EQ(r->receive_buffer, 1048576u);
    EXPECT_EQ(r->initial_rto.count(), 300);
    EXPECT_EQ(r->congestion, tcp::congestion::Algorithm::NewReno);
    EXPECT_FALSE(r->sack);
    EXPECT_EQ(r->out_of_order_segments, 300u);
    EXPECT_EQ(r->out_of_order_worker_segments, 5000u);
    EXPECT_EQ(r->ephemeral_ports.low, 20000);
    EXPECT_EQ(r->ephemeral_ports.high, 20063);
    EXPECT_EQ(r->steering, Steering::Software);
    ASSERT_EQ(r->services.size(), 2u);
    EXPECT_EQ(r->services[0].service, "echo");
    EXPECT_EQ(r->services[0].port, 7);
    EXPECT_EQ(r->services[1].service, "http");
    EXPECT_EQ(r->services[1].port, 8080);
    EXPECT_EQ(r->http_body, 77u);
    EXPECT_EQ(r->source_bytes, 99u);
    EXPECT_EQ(r->connect_ip, wire::Ipv4Address::from_octets(192, 168, 0, 5));
    EXPECT_EQ(r->connect_port, 9);
    EXPECT_EQ(r->client_bytes, 12345u);
    EXPECT_FALSE(r->client_expect_echo);
    EXPECT_EQ(r->client_expect, 777u);
    EXPECT_EQ(r->client_connections, 2000u);
    EXPECT_EQ(r->client_parallel, 50u);

    // The file above names every setting there is.
    const std::string text = kEveryKey;
    for (const Setting& s : settings()) {
        EXPECT_NE(text.find("\n" + std::string(s.key) + " = "), std::string::npos) << s.key;
    }
}

TEST(ConfigFile, EntriesCarryTheirPlace) {
    TempFile f("[engine]\n\naddr = 10.0.0.2/24 ; ours\n[tcp]\n  msl=7\n");
    auto r = read_config_file(f.path());
    ASSERT_TRUE(r.has_value()) << r.error();
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].setting->flag, "--addr");
    EXPECT_EQ((*r)[0].value, "10.0.0.2/24");
    EXPECT_EQ((*r)[0].where, f.path() + ":3: [engine] addr");
    EXPECT_EQ((*r)[1].setting->flag, "--msl");
    EXPECT_EQ((*r)[1].value, "7");
    EXPECT_EQ((*r)[1].where, f.path() + ":5: [tcp] msl");
}

TEST(ConfigFile, CrLfAndCommentsAndEmptySections) {
    TempFile f("; top\r\n[arp]\r\n[engine] ; the engine\r\naddr = 10.0.0.2/24\r\nvlan = 9;x\r\n");
    auto r = parse_options({"--config", f.path()}, kServices);
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->vlan_id, 9);
}

// rte_cfgfile reads a line into 324 bytes, its newline included; a longer one is refused here
// first.
TEST(ConfigFile, LinesUpToRteCfgfilesLimit) {
    const std::string head = "[engine]\naddr = 10.0.0.2/24\nvlan = 5 ;";
    const std::string fits = head + std::string(322 - 10, 'c');
    TempFile f(fits + "\n");
    auto r = parse_options({"--config", f.path()}, kServices);
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->vlan_id, 5);
    TempFile no_newline(fits);
    EXPECT_TRUE(parse_options({"--config", no_newline.path()}, kServices).has_value());
    EXPECT_EQ(file_error(fits + "c\n"), "FILE:3: longer than 322 characters");
}

TEST(ConfigFile, CommandLineOverridesTheFileWhereverConfigStands) {
    TempFile f(
        "[engine]\naddr = 10.0.0.2/24\nvlan = 7\nlocal-addr = 10.0.0.3\n"
        "[tcp]\nmsl = 5\nnagle = no\n"
        "[services]\nserve = http:80\nserve = echo:7\n");
    auto r = parse_options({"--msl", "9", "--serve", "discard:9", "--serve", "echo:7", "--config",
                            f.path(), "--addr", "10.0.1.2/24"},
                           kServices);
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->address.address, wire::Ipv4Address::from_octets(10, 0, 1, 2));
    EXPECT_EQ(r->msl.count(), 9);
    EXPECT_EQ(r->vlan_id, 7);  // the file's, not overridden
    EXPECT_TRUE(r->nodelay);   // likewise
    // A repeated flag replaces the file's list: echo:7 is not a second service on port 7.
    ASSERT_EQ(r->services.size(), 2u);
    EXPECT_EQ(r->services[0].service, "discard");
    EXPECT_EQ(r->services[1].service, "echo");
    // The list not given on the command line stays.
    ASSERT_EQ(r->local_addresses.size(), 1u);

    // The address on the command line moves the subnet the file's gateway must be on.
    TempFile g("[engine]\naddr = 10.0.0.2/24\ngateway = 10.0.0.1\n");
    EXPECT_EQ(error_of({"--config", g.path(), "--addr", "10.0.1.2/24"}),
              g.path() +
                  ":3: [engine] gateway '10.0.0.1': must be another address on the --addr "
                  "subnet 10.0.1.2/24");
}

TEST(ConfigFile, TheFileAloneNeedsAnAddress) {
    EXPECT_NE(file_error("[tcp]\nmsl = 5\n").find("--addr is required"), std::string::npos);
}

// Each kind of bad value, at line 4 of a file whose addr is on line 2.
TEST(ConfigFile, BadValuesNameFileLineSectionKeyAndWhatIsAllowed) {
    struct Case {
        const char* section;
        const char* line;
        const char* expected;
    };
    const Case cases[] = {
        {"engine", "vlan = 4095", "[engine] vlan '4095': expected a VLAN id from 1 to 4094"},
        {"engine", "vlan =", "[engine] vlan '': expected a VLAN id from 1 to 4094"},
        {"engine", "mbufs = 12x",
         "[engine] mbufs '12x': expected a whole number from 1023 to "
         "4194303"},
        {"engine", "mtu = -5",
         "[engine] mtu '-5': expected a whole number of bytes from 68 to "
         "65535"},
        {"engine", "workers = 65", "[engine] workers '65': expected a whole number from 1 to 64"},
        {"engine", "duration = 0", "[engine] duration '0': expected seconds from 1 to 31536000"},
        {"engine", "offloads = off", "[engine] offloads 'off': expected yes or no"},
        {"engine", "tcp-checksums = yes",
         "[engine] tcp-checksums 'yes': expected full, trust-received or off"},
        {"engine", "gateway = router",
         "[engine] gateway 'router': expected an IPv4 address, e.g. 10.0.0.1"},
        {"engine", "port =", "[engine] port '': expected a port id, name or vdev string"},
        {"engine", "local-addr = 127.0.0.2",
         "[engine] local-addr '127.0.0.2': must be a unicast, non-loopback address"},
        {"engine", "local-addr = 10.0.0.2",
         "[engine] local-addr '10.0.0.2': is the addr address already"},
        {"arp", "entries = 7", "[arp] entries '7': expected a whole number from 8 to 1048576"},
        {"arp", "timeout = 86401", "[arp] timeout '86401': expected seconds from 1 to 86400"},
        {"tcp", "max-connections = 15",
         "[tcp] max-connections '15': expected a whole number from 16 to 16777216"},
        {"tcp", "msl = 0", "[tcp] msl '0': expected seconds from 1 to 600"},
        {"tcp", "nagle = true", "[tcp] nagle 'true': expected yes or no"},
        {"tcp", "keepalive = 1", "[tcp] keepalive '1': expected yes or no"},
        {"tcp", "send-buffer = 4095",
         "[tcp] send-buffer '4095': expected bytes from 4096 to 67108864"},
        {"tcp", "receive-buffer = 67108865",
         "[tcp] receive-buffer '67108865': expected bytes from 4096 to 67108864"},
        {"tcp", "initial-rto = 199",
         "[tcp] initial-rto '199': expected milliseconds from 200 to 60000"},
        {"tcp", "ephemeral-ports = 60000-60062",
         "[tcp] ephemeral-ports '60000-60062': expected LO-HI, ports from 1024 to 65535 with LO "
         "<= HI and at least 64 of them, e.g. 49152-65535"},
        {"tcp", "steering = fast", "[tcp] steering 'fast': expected auto, rss or software"},
        {"services", "serve = ftp:21",
         "[services] serve 'ftp:21': unknown service 'ftp': the services are echo, discard, "
         "source, http, as NAME:PORT (e.g. http:80)"},
        {"services", "serve = http",
         "[services] serve 'http': expected NAME:PORT with a port from 1 to 65535, e.g. http:80"},
        {"services", "http-body = 17179869185",
         "[services] http-body '17179869185': expected bytes from 0 to 17179869184"},
        {"services", "source-bytes = x",
         "[services] source-bytes 'x': expected bytes from 0 to 1099511627776"},
        {"client", "connect = 10.0.0.1",
         "[client] connect '10.0.0.1': expected IP:PORT, e.g. "
         "10.0.0.1:7"},
        {"client", "bytes = -1", "[client] bytes '-1': expected bytes from 0 to 1099511627776"},
    };
    for (const Case& c : cases) {
        const std::string section = c.section;
        const std::string text = "[engine]\naddr = 10.0.0.2/24\n" +
                                 (section == "engine" ? "; still [engine]" : "[" + section + "]") +
                                 "\n" + c.line + "\n";
        EXPECT_EQ(file_error(text), std::string("FILE:4: ") + c.expected) << c.line;
    }
}

TEST(ConfigFile, AddressAndGatewayAreNamedWithTheirLines) {
    EXPECT_EQ(file_error("[engine]\naddr = 10.0.0.300/24\n"),
              "FILE:2: [engine] addr '10.0.0.300/24': expected an IPv4 address and prefix length, "
              "e.g. 10.0.0.2/24");
    EXPECT_EQ(file_error("[engine]\n; a comment\naddr = 10.0.0.2/24\ngateway = 10.0.1.1\n"),
              "FILE:4: [engine] gateway '10.0.1.1': must be another address on the addr subnet "
              "10.0.0.2/24");
}

TEST(ConfigFile, AKeyOrSectionGivenTwice) {
    EXPECT_EQ(file_error("[engine]\naddr = 10.0.0.2/24\n[tcp]\nmsl = 5\nmsl = 6\n"),
              "FILE:5: [tcp] msl '6': already set on line 4");
    EXPECT_EQ(file_error("[tcp]\nmsl = 5\n[engine]\naddr = 10.0.0.2/24\n[tcp]\nnagle = no\n"),
              "FILE:5: [tcp]: already begun on line 1; give each section once");
    EXPECT_EQ(file_error("[engine]\naddr = 10.0.0.2/24\n[services]\nserve = echo:7\n"
                         "serve = http:7\n"),
              "FILE:5: [services] serve 'http:7': port 7 already has a service");
}

TEST(ConfigFile, UnknownSectionsAndKeys) {
    EXPECT_EQ(file_error("[engine]\naddr = 10.0.0.2/24\n\n[routes]\n"),
              "FILE:4: [routes]: unknown section; the sections are [engine], [arp], [tcp], "
              "[services], [client]");
    EXPECT_EQ(file_error("[engine]\naddr = 10.0.0.2/24\n[arp]\nsize = 8\n"),
              "FILE:4: [arp] size: unknown key; [arp] takes entries, timeout");
    // A key of one section in another is unknown there.
    EXPECT_EQ(file_error("[engine]\naddr = 10.0.0.2/24\nmsl = 5\n"),
              "FILE:3: [engine] msl: unknown key; [engine] takes addr, gateway, port, vlan, mtu, "
              "mbufs, workers, duration, idle, offloads, tcp-checksums, local-addr");
}

TEST(ConfigFile, SyntaxErrorsNameTheirLine) {
    EXPECT_EQ(file_error("[engine\naddr = 10.0.0.2/24\n"),
              "FILE:1: '[engine': expected ']' to end the section name");
    EXPECT_EQ(file_error("[engine]\naddr 10.0.0.2/24\n"),
              "FILE:2: 'addr 10.0.0.2/24': expected [section] or key = value");
    EXPECT_EQ(file_error("# a comment\n[engine]\n"),
              "FILE:1: '# a comment': expected [section] or key = value; comments start with ';'");
    EXPECT_EQ(file_error("addr = 10.0.0.2/24\n[engine]\n"),
              "FILE:1: addr '10.0.0.2/24': outside any section; keys go under [engine], [arp], "
              "[tcp], [services] or [client]");
    EXPECT_EQ(file_error("[engine] addr = 10.0.0.2/24\n"),
              "FILE:1: '[engine] addr = 10.0.0.2/24': expected nothing after ']' but a ';' "
              "comment");
    EXPECT_EQ(file_error("[engine]\n= 5\n"), "FILE:2: '= 5': expected a key before '='");
    EXPECT_EQ(file_error("[engine]\nport = " + std::string(316, 'x') + "\n"),
              "FILE:2: longer than 322 characters");
    EXPECT_EQ(file_error("[engine]\nport = " + std::string(256, 'x') + "\n"),
              "FILE:2: [engine] port: the value is longer than 255 characters");
}

TEST(ConfigFile, AFileThatCannotBeReadIsNamedWithErrnoText) {
    const std::string missing = "/nonexistent/sluice.ini";
    EXPECT_EQ(error_of({"--addr", "10.0.0.2/24", "--config", missing}),
              "--config '/nonexistent/sluice.ini': cannot read it: No such file or directory");
    const std::string dir = fs::temp_directory_path().string();
    EXPECT_EQ(error_of({"--config", dir}),
              "--config '" + dir + "': cannot read it: Is a directory");
}

TEST(ConfigFile, ConfigFlagItself) {
    TempFile f("[engine]\naddr = 10.0.0.2/24\n");
    EXPECT_EQ(error_of({"--config", f.path(), "--config", f.path()}),
              "--config '" + f.path() + "': one config file only; --config '" + f.path() +
                  "' came first");
    EXPECT_EQ(error_of({"--addr", "10.0.0.2/24", "--config"}),
              "--config needs a value (see --help)");
    EXPECT_EQ(error_of({"--config", ""}), "--config '': expected a file name");
    EXPECT_NE(usage("sluice").find("--config FILE"), std::string::npos);
}

TEST(ConfigFile, TheExampleInDeployParsesToTheDefaults) {
    const fs::path example = example_config();
    ASSERT_FALSE(example.empty()) << "deploy/sluice.ini not found from " << __FILE__;
    auto r = parse_options({"--config", example.string()}, kServices);
    ASSERT_TRUE(r.has_value()) << r.error();

    // Apart from the required address, the example sets every key that has a default to it.
    const EngineOptions d;
    EXPECT_EQ(r->address.to_string(), "10.0.0.2/24");
    EXPECT_FALSE(r->gateway.has_value());
    EXPECT_EQ(r->port, d.port);
    EXPECT_FALSE(r->vlan_id.has_value());
    EXPECT_FALSE(r->mtu.has_value());
    EXPECT_EQ(r->mbufs, d.mbufs);
    EXPECT_EQ(r->workers, d.workers);
    EXPECT_EQ(r->duration, d.duration);
    EXPECT_EQ(r->offloads, d.offloads);
    EXPECT_TRUE(r->local_addresses.empty());
    EXPECT_EQ(r->neighbor_capacity, d.neighbor_capacity);
    EXPECT_EQ(r->neighbor_timeout, d.neighbor_timeout);
    EXPECT_EQ(r->max_connections, d.max_connections);
    EXPECT_EQ(r->msl, d.msl);
    EXPECT_EQ(r->nodelay, d.nodelay);
    EXPECT_EQ(r->keepalive, d.keepalive);
    EXPECT_EQ(r->send_buffer, d.send_buffer);
    EXPECT_EQ(r->receive_buffer, d.receive_buffer);
    EXPECT_EQ(r->initial_rto, d.initial_rto);
    EXPECT_EQ(r->ephemeral_ports.low, d.ephemeral_ports.low);
    EXPECT_EQ(r->ephemeral_ports.high, d.ephemeral_ports.high);
    EXPECT_EQ(r->steering, d.steering);
    EXPECT_TRUE(r->services.empty());
    EXPECT_EQ(r->http_body, d.http_body);
    EXPECT_EQ(r->source_bytes, d.source_bytes);
    EXPECT_FALSE(r->connect_ip.has_value());
    EXPECT_EQ(r->client_bytes, d.client_bytes);

    // And it mentions every key, set or commented out.
    std::ifstream in(example);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    for (const Setting& s : settings()) {
        EXPECT_TRUE(text.find("\n" + std::string(s.key) + " = ") != std::string::npos ||
                    text.find("; " + std::string(s.key) + " = ") != std::string::npos)
            << s.key;
    }
}

}  // namespace
}  // namespace sluice::control
