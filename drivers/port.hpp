// A DPDK ethdev port: a PCI NIC, or a virtual device named by a vdev string (net_af_packet,
// net_tap, net_ring, net_memif, net_virtio_user...). Opens, configures its queues and offloads,
// starts, and on destruction stops, closes and (if it plugged it) removes the device.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rte_ethdev.h>
#include <rte_mempool.h>

#include <sluice/addresses.hpp>
#include <sluice/result.hpp>
#include "drivers/capabilities.hpp"

namespace sluice::drivers {

struct PortConfig {
    // Empty: the first port EAL found (from -a or --vdev). A number: that port id. A name: the port
    // of that name ("0000:01:00.0", "net_af_packet0"). A vdev string with arguments
    // ("net_tap0,iface=sl0"): that device, plugged in now and removed on close.
    std::string device;
    std::uint16_t rx_queues = 1;
    std::uint16_t tx_queues = 1;
    std::uint16_t rx_descriptors = 1024;
    std::uint16_t tx_descriptors = 1024;
    std::optional<std::uint16_t> mtu;
    OffloadRequest offloads;
};

struct LinkStatus {
    bool up = false;
    std::uint32_t speed_mbps = 0;
    std::string text;  // rte_eth_link_to_str's rendering
};

class Port {
  public:
    static Result<std::unique_ptr<Port>, std::string> open(const PortConfig& config,
                                                           rte_mempool* pool);
    ~Port();
    Port(const Port&) = delete;
    Port& operator=(const Port&) = delete;

    std::uint16_t id() const { return id_; }
    const std::string& name() const { return name_; }
    const std::string& driver() const { return driver_; }
    wire::MacAddress mac() const { return mac_; }
    std::uint16_t mtu() const { return mtu_; }
    const OffloadPlan& offloads() const { return offloads_; }
    const std::string& offload_report() const { return offload_report_; }

    LinkStatus link() const;
    // The device's extended statistics, by the names the driver gives them.
    std::vector<std::pair<std::string, std::uint64_t>> xstats() const;

  private:
    Port() = default;

    std::uint16_t id_ = 0;
    std::string name_;
    std::string driver_;
    wire::MacAddress mac_;
    std::uint16_t mtu_ = 0;
    OffloadPlan offloads_;
    std::string offload_report_;
    bool plugged_by_us_ = false;
    bool started_ = false;
};

}  // namespace sluice::drivers
