// drivers::Port over real DPDK virtual devices: an existing port found by name or id, a vdev
// plugged in from its string and removed on close, and the errors a user can cause.
#include "drivers/port.hpp"

#include <gtest/gtest.h>

#include <rte_ethdev.h>

#include "tests/support/eal_environment.hpp"
#include "tests/support/ring_port.hpp"

namespace sluice::drivers {
namespace {

TEST(Port, OpensAnExistingPortByNameAndReportsWhatItGot) {
    test::RingPort ring(/*start=*/false);
    PortConfig config;
    config.device = ring.name();
    auto port = Port::open(config, test::packet_pool());
    ASSERT_TRUE(port.has_value()) << port.error();
    EXPECT_EQ((*port)->id(), ring.port_id());
    EXPECT_EQ((*port)->name(), ring.name());
    EXPECT_EQ((*port)->driver(), "net_ring");
    // net_ring offers no checksum offloads: everything falls back to software, and says so.
    EXPECT_FALSE((*port)->offloads().rx_ipv4_checksum());
    EXPECT_FALSE((*port)->offloads().tx_tcp_checksum());
    EXPECT_NE((*port)->offload_report().find("in software: IPV4_CKSUM"), std::string::npos)
        << (*port)->offload_report();
    EXPECT_TRUE((*port)->link().up);
    EXPECT_FALSE((*port)->xstats().empty());
}

TEST(Port, OpensByPortId) {
    test::RingPort ring(/*start=*/false);
    PortConfig config;
    config.device = std::to_string(ring.port_id());
    auto port = Port::open(config, test::packet_pool());
    ASSERT_TRUE(port.has_value()) << port.error();
    EXPECT_EQ((*port)->name(), ring.name());
}

TEST(Port, PlugsInAVirtualDeviceFromItsStringAndRemovesItOnClose) {
    PortConfig config;
    config.device = "net_null_porttest,size=64";
    {
        auto port = Port::open(config, test::packet_pool());
        ASSERT_TRUE(port.has_value()) << port.error();
        EXPECT_EQ((*port)->name(), "net_null_porttest");
        std::uint16_t id;
        EXPECT_EQ(rte_eth_dev_get_port_by_name("net_null_porttest", &id), 0);
    }
    std::uint16_t id;
    EXPECT_NE(rte_eth_dev_get_port_by_name("net_null_porttest", &id), 0) << "not removed";
}

TEST(Port, UnknownDeviceListsWhatExists) {
    test::RingPort ring(/*start=*/false);
    PortConfig config;
    config.device = "no_such_port";
    auto port = Port::open(config, test::packet_pool());
    ASSERT_FALSE(port.has_value());
    EXPECT_NE(port.error().find("--port no_such_port"), std::string::npos) << port.error();
    EXPECT_NE(port.error().find(ring.name()), std::string::npos) << port.error();
}

TEST(Port, BadPortIdAndBadVdevAreReported) {
    PortConfig config;
    config.device = "4000";
    auto by_id = Port::open(config, test::packet_pool());
    ASSERT_FALSE(by_id.has_value());
    EXPECT_NE(by_id.error().find("no such port id"), std::string::npos) << by_id.error();

    config.device = "net_nonexistentdriver0,x=1";
    auto vdev = Port::open(config, test::packet_pool());
    ASSERT_FALSE(vdev.has_value());
    EXPECT_NE(vdev.error().find("cannot create the device"), std::string::npos) << vdev.error();
}

TEST(Port, TooManyQueuesIsRefusedWithTheDeviceLimit) {
    test::RingPort ring(/*start=*/false);
    PortConfig config;
    config.device = ring.name();
    config.rx_queues = 64;
    config.tx_queues = 64;
    auto port = Port::open(config, test::packet_pool());
    ASSERT_FALSE(port.has_value());
    EXPECT_NE(port.error().find("at most"), std::string::npos) << port.error();
}

}  // namespace
}  // namespace sluice::drivers
