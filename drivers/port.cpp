#include "drivers/port.hpp"

#include <charconv>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>

#include "dataplane/util/log.hpp"

namespace sluice::drivers {

namespace {

std::string dpdk_error(int rc) {
    return rte_strerror(rc < 0 ? -rc : rc);
}

std::string available_ports() {
    std::string out;
    std::uint16_t id;
    RTE_ETH_FOREACH_DEV(id) {
        char name[RTE_ETH_NAME_MAX_LEN];
        if (rte_eth_dev_get_name_by_port(id, name) != 0)
            continue;
        out += (out.empty() ? "" : ", ") + std::to_string(id) + " (" + name + ")";
    }
    return out.empty() ? "none (give EAL a device with --vdev or -a)" : out;
}

struct Found {
    std::uint16_t id;
    bool plugged;
};

Result<Found, std::string> find_or_plug(const std::string& device) {
    std::uint16_t id = 0;
    if (device.empty()) {
        RTE_ETH_FOREACH_DEV(id) {
            return Found{id, false};
        }
        return Unexpected{
            std::string("no DPDK port found: give EAL a device (e.g. --vdev "
                        "net_af_packet0,iface=veth0) or name one with --port")};
    }
    auto [end, ec] = std::from_chars(device.data(), device.data() + device.size(), id);
    if (ec == std::errc{} && end == device.data() + device.size()) {
        if (!rte_eth_dev_is_valid_port(id)) {
            return Unexpected{"--port " + device +
                              ": no such port id; available: " + available_ports()};
        }
        return Found{id, false};
    }
    const std::string name = device.substr(0, device.find(','));
    if (rte_eth_dev_get_port_by_name(name.c_str(), &id) == 0)
        return Found{id, false};
    // Not known yet: a virtual device to plug in now.
    if (name.rfind("net_", 0) != 0) {
        return Unexpected{"--port " + device + ": no such port; available: " + available_ports() +
                          " (a virtual device is named by its driver, e.g. net_tap0,iface=sl0)"};
    }
    const int rc = rte_dev_probe(device.c_str());
    if (rc != 0) {
        return Unexpected{"--port " + device + ": cannot create the device: " + dpdk_error(rc)};
    }
    if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) {
        return Unexpected{"--port " + device + ": the device was created but has no ethdev port"};
    }
    return Found{id, true};
}

}  // namespace

Result<std::unique_ptr<Port>, std::string> Port::open(const PortConfig& config, rte_mempool* pool) {
    auto found = find_or_plug(config.device);
    if (!found)
        return Unexpected{found.error()};
    std::unique_ptr<Port> port(new Port());
    port->id_ = found->id;
    port->plugged_by_us_ = found->plugged;
    const std::uint16_t id = port->id_;

    char name[RTE_ETH_NAME_MAX_LEN] = {};
    rte_eth_dev_get_name_by_port(id, name);
    port->name_ = name;

    rte_eth_dev_info info{};
    if (const int rc = rte_eth_dev_info_get(id, &info); rc != 0) {
        return Unexpected{"port " + port->name_ + ": cannot read device info: " + dpdk_error(rc)};
    }
    port->driver_ = info.driver_name != nullptr ? info.driver_name : "?";
    if (config.rx_queues > info.max_rx_queues || config.tx_queues > info.max_tx_queues) {
        return Unexpected{
            "port " + port->name_ + ": " + std::to_string(config.rx_queues) + "/" +
            std::to_string(config.tx_queues) + " rx/tx queues asked, the device has at most " +
            std::to_string(info.max_rx_queues) + "/" + std::to_string(info.max_tx_queues)};
    }

    port->offloads_ = negotiate_offloads(info, config.offloads, config.rx_queues);
    port->offload_report_ = describe_offloads(config.offloads, port->offloads_, info);

    rte_eth_conf conf{};
    conf.rxmode.offloads = port->offloads_.rx_offloads;
    conf.txmode.offloads = port->offloads_.tx_offloads;
    if (port->offloads_.rss()) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf = port->offloads_.rss_hash_functions;
    }
    if (config.mtu) {
        if (*config.mtu < info.min_mtu || *config.mtu > info.max_mtu) {
            return Unexpected{"--mtu " + std::to_string(*config.mtu) + ": port " + port->name_ +
                              " allows " + std::to_string(info.min_mtu) + " to " +
                              std::to_string(info.max_mtu)};
        }
        conf.rxmode.mtu = *config.mtu;
    }
    if (const int rc = rte_eth_dev_configure(id, config.rx_queues, config.tx_queues, &conf);
        rc != 0) {
        return Unexpected{"port " + port->name_ + ": configure failed: " + dpdk_error(rc)};
    }
    std::uint16_t rx_desc = config.rx_descriptors;
    std::uint16_t tx_desc = config.tx_descriptors;
    if (const int rc = rte_eth_dev_adjust_nb_rx_tx_desc(id, &rx_desc, &tx_desc); rc != 0) {
        return Unexpected{"port " + port->name_ + ": descriptor counts: " + dpdk_error(rc)};
    }
    const int socket = rte_eth_dev_socket_id(id);
    rte_eth_rxconf rxconf = info.default_rxconf;
    rxconf.offloads = conf.rxmode.offloads;
    for (std::uint16_t q = 0; q < config.rx_queues; ++q) {
        if (const int rc = rte_eth_rx_queue_setup(id, q, rx_desc, socket, &rxconf, pool); rc != 0) {
            return Unexpected{"port " + port->name_ + ": rx queue " + std::to_string(q) + ": " +
                              dpdk_error(rc)};
        }
    }
    rte_eth_txconf txconf = info.default_txconf;
    txconf.offloads = conf.txmode.offloads;
    for (std::uint16_t q = 0; q < config.tx_queues; ++q) {
        if (const int rc = rte_eth_tx_queue_setup(id, q, tx_desc, socket, &txconf); rc != 0) {
            return Unexpected{"port " + port->name_ + ": tx queue " + std::to_string(q) + ": " +
                              dpdk_error(rc)};
        }
    }
    if (const int rc = rte_eth_dev_start(id); rc != 0) {
        return Unexpected{"port " + port->name_ + ": start failed: " + dpdk_error(rc)};
    }
    port->started_ = true;

    rte_ether_addr mac{};
    rte_eth_macaddr_get(id, &mac);
    port->mac_ = wire::MacAddress(std::to_array(mac.addr_bytes));
    rte_eth_dev_get_mtu(id, &port->mtu_);

    SLUICE_LOG(INFO, driver,
               "port %u %s (driver %s): %u rx / %u tx queues, %u/%u descriptors, "
               "mtu %u, mac %s",
               id, port->name_.c_str(), port->driver_.c_str(), config.rx_queues, config.tx_queues,
               rx_desc, tx_desc, port->mtu_, port->mac_.to_string().c_str());
    SLUICE_LOG(INFO, driver, "port %u offloads:\n    %s", id, port->offload_report_.c_str());
    return port;
}

Port::~Port() {
    if (started_)
        rte_eth_dev_stop(id_);
    rte_eth_dev_close(id_);
    if (plugged_by_us_)
        rte_eal_hotplug_remove("vdev", name_.c_str());
}

LinkStatus Port::link() const {
    rte_eth_link link{};
    LinkStatus status;
    if (rte_eth_link_get_nowait(id_, &link) != 0) {
        status.text = "unknown";
        return status;
    }
    status.up = link.link_status == RTE_ETH_LINK_UP;
    status.speed_mbps = link.link_speed;
    char text[RTE_ETH_LINK_MAX_STR_LEN];
    rte_eth_link_to_str(text, sizeof text, &link);
    status.text = text;
    return status;
}

std::vector<std::pair<std::string, std::uint64_t>> Port::xstats() const {
    const int n = rte_eth_xstats_get_names(id_, nullptr, 0);
    if (n <= 0)
        return {};
    std::vector<rte_eth_xstat_name> names(static_cast<std::size_t>(n));
    std::vector<rte_eth_xstat> values(static_cast<std::size_t>(n));
    if (rte_eth_xstats_get_names(id_, names.data(), static_cast<unsigned>(n)) != n ||
        rte_eth_xstats_get(id_, values.data(), static_cast<unsigned>(n)) != n) {
        return {};
    }
    std::vector<std::pair<std::string, std::uint64_t>> out;
    out.reserve(static_cast<std::size_t>(n));
    for (const rte_eth_xstat& v : values)
        out.emplace_back(names[v.id].name, v.value);
    return out;
}

}  // namespace sluice::drivers
