// sluice-faultbridge's command line: profiles per direction or for both, ports, and refusals that
// name the flag and what is allowed.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "drivers/faultbridge_options.hpp"

namespace sluice::drivers {
namespace {

Result<BridgeOptions, std::string> parse(std::vector<std::string> args) {
    return parse_bridge_options(args);
}

TEST(FaultBridgeOptions, TakesAProfilePerDirection) {
    auto o = parse({"--a-to-b", "loss=0.1,seed=3", "--b-to-a", "delay=2ms", "--port-a", "1",
                    "--port-b", "net_af_packet0", "--duration", "30"});
    ASSERT_TRUE(o.has_value()) << o.error();
    EXPECT_EQ(o->a_to_b.loss, 0.1);
    EXPECT_EQ(o->a_to_b.seed, 3u);
    EXPECT_EQ(o->b_to_a.delay, std::chrono::milliseconds(2));
    EXPECT_EQ(o->port_a, "1");
    EXPECT_EQ(o->port_b, "net_af_packet0");
    EXPECT_EQ(o->duration, std::chrono::seconds(30));
}

TEST(FaultBridgeOptions, BothGivesTheWayBackTheNextSeed) {
    auto o = parse({"--both", "loss=5%,delay=1ms,seed=41"});
    ASSERT_TRUE(o.has_value()) << o.error();
    EXPECT_EQ(o->a_to_b.seed, 41u);
    EXPECT_EQ(o->b_to_a.seed, 42u);
    FaultProfile same = o->b_to_a;
    same.seed = 41;
    EXPECT_EQ(same, o->a_to_b);
}

TEST(FaultBridgeOptions, RefusalsNameTheFlag) {
    struct Case {
        std::vector<std::string> args;
        const char* must_mention;
    };
    for (const Case& c : std::vector<Case>{
             {{"--a-to-b", "loss=2"}, "--a-to-b: loss '2': expected a probability"},
             {{"--both", "delay=5"}, "--both: delay '5': expected a duration with a unit"},
             {{"--both", "frob=1"}, "--both: frob '1': unknown key"},
             {{"--frob", "1"}, "unknown flag '--frob'; allowed: --a-to-b"},
             {{"--a-to-b"}, "--a-to-b: expects a value"},
             {{"--both", "loss=0.1", "--a-to-b", "loss=0.2"}, "use it alone"},
             {{"--duration", "0"}, "--duration '0': expected seconds from 1"},
             {{"--mbufs", "10"}, "--mbufs '10': expected a whole number from 1023"},
             {{"--capacity", "x"}, "--capacity 'x'"},
             {{"--port-a", "0", "--port-b", "0"}, "--port-b '0': must differ from --port-a"},
         }) {
        auto o = parse(c.args);
        ASSERT_FALSE(o.has_value()) << c.args.front() << " was accepted";
        EXPECT_NE(o.error().find(c.must_mention), std::string::npos) << o.error();
    }
}

}  // namespace
}  // namespace sluice::drivers
