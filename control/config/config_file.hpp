// The engine's config file: an INI file, read with DPDK's rte_cfgfile, whose every key is one of
// the command-line settings (options.hpp) under its section's name:
//
//   [engine]    addr gateway port vlan mtu mbufs workers duration offloads local-addr
//   [arp]       entries timeout
//   [tcp]       max-connections msl nagle keepalive send-buffer receive-buffer initial-rto
//               ephemeral-ports steering
//   [services]  serve (repeatable, NAME:PORT as for --serve) http-body source-bytes
//   [client]    connect bytes
//
// Comments start with ';' (rte_cfgfile's), anywhere on a line. deploy/sluice.ini shows every key.
// rte_cfgfile keeps no line numbers, so the file's text is scanned here as well: every message
// names FILE:LINE, and a line rte_cfgfile would skip without a word (no '=') is refused instead.
#pragma once

#include <string>
#include <vector>

#include <sluice/result.hpp>
#include "control/config/options.hpp"

namespace sluice::control {

// One key = value of the file, matched to its setting.
struct ConfigEntry {
    const Setting* setting;
    std::string value;
    // "FILE:LINE: [section] key": what a message about this value starts with.
    std::string where;
};

// Reads `path`. Returns its entries in file order, not yet applied (their values are checked when
// parse_options applies them), or a message: the path and errno text when the file cannot be
// read, else FILE:LINE and what is wrong there (syntax, an unknown section or key, a key given
// twice).
// Thread-safe: it keeps no state of its own.
Result<std::vector<ConfigEntry>, std::string> read_config_file(const std::string& path);

}  // namespace sluice::control
