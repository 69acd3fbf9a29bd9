#include "drivers/faultbridge_options.hpp"

#include <charconv>
#include <optional>

namespace sluice::drivers {

namespace {

template <typename Int>
std::optional<Int> parse_whole(const std::string& text, Int min, Int max) {
    Int v{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || v < min || v > max)
        return std::nullopt;
    return v;
}

std::string bad(const std::string& flag, const std::string& value, const std::string& allowed) {
    return flag + " '" + value + "': " + allowed;
}

constexpr const char* kFlags =
    "--a-to-b, --b-to-a, --both, --port-a, --port-b, --duration, --mbufs, --capacity, --help";

}  // namespace

Result<BridgeOptions, std::string> parse_bridge_options(std::span<const std::string> args) {
    BridgeOptions o;
    bool one_direction_given = false;
    bool both_given = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& flag = args[i];
        if (flag == "-h" || flag == "--help") {
            o.help = true;
            continue;
        }
        if (flag != "--a-to-b" && flag != "--b-to-a" && flag != "--both" && flag != "--port-a" &&
            flag != "--port-b" && flag != "--duration" && flag != "--mbufs" &&
            flag != "--capacity") {
            return Unexpected{"unknown flag '" + flag + "'; allowed: " + kFlags};
        }
        if (i + 1 == args.size())
            return Unexpected{flag + ": expects a value (see --help)"};
        const std::string& value = args[++i];
        if (flag == "--a-to-b" || flag == "--b-to-a" || flag == "--both") {
            auto profile = parse_fault_profile(value);
            if (!profile)
                return Unexpected{flag + ": " + profile.error()};
            if (flag == "--both") {
                o.a_to_b = *profile;
                // Another seed for the way back: with the same one, both directions would lose,
                // duplicate and corrupt the same frame numbers, which no real link does.
                o.b_to_a = *profile;
                o.b_to_a.seed = profile->seed + 1;
                both_given = true;
            } else {
                (flag == "--a-to-b" ? o.a_to_b : o.b_to_a) = *profile;
                one_direction_given = true;
            }
            if (both_given && one_direction_given) {
                return Unexpected{flag +
                                  ": --both gives both directions; use it alone, or --a-to-b "
                                  "and --b-to-a"};
            }
        } else if (flag == "--port-a" || flag == "--port-b") {
            if (value.empty())
                return Unexpected{bad(flag, value, "expected a port id, name or vdev string")};
            (flag == "--port-a" ? o.port_a : o.port_b) = value;
        } else if (flag == "--duration") {
            const auto v = parse_whole<std::uint32_t>(value, 1, 31536000);
            if (!v)
                return Unexpected{bad(flag, value, "expected seconds from 1 to 31536000")};
            o.duration = std::chrono::seconds(*v);
        } else if (flag == "--mbufs") {
            const auto v = parse_whole<std::uint32_t>(value, 1023, 4194303);
            if (!v)
                return Unexpected{bad(flag, value, "expected a whole number from 1023 to 4194303")};
            o.mbufs = *v;
        } else {
            const auto v = parse_whole<std::uint32_t>(value, 1, 1 << 22);
            if (!v)
                return Unexpected{bad(flag, value, "expected frames from 1 to 4194304")};
            o.capacity = *v;
        }
    }
    if (!o.port_a.empty() && o.port_a == o.port_b)
        return Unexpected{bad("--port-b", o.port_b, "must differ from --port-a")};
    return o;
}

std::string bridge_usage() {
    return R"(usage: sluice-faultbridge [EAL options] -- [options]

Forwards frames between two DPDK ports, A and B, each direction through its own fault-injecting
link (docs/faulty-link.md). EAL options are DPDK's own (-l, --vdev, -a, --no-huge, -m, ...).

Options:
  --a-to-b PROFILE   what happens to frames from A to B (default: nothing)
  --b-to-a PROFILE   what happens to frames from B to A (default: nothing)
  --both PROFILE     both directions; B to A draws from the next seed
  --port-a DEVICE    port id, port name or vdev string (default: the first port EAL found)
  --port-b DEVICE    likewise (default: the second port EAL found)
  --duration SECONDS stop after this long (default: until SIGINT or SIGTERM)
  --mbufs N          packet buffers (1023-4194303, default 32767)
  --capacity N       frames each direction may hold at once (1-4194304, default 16384)

PROFILE is key=value pairs separated by commas, each key at most once:
  loss=P                 independent loss probability (0-1, or a percentage: 5%)
  burst=GB:BG[:LB[:LG]]  Gilbert-Elliott burst loss: good->bad, bad->good, loss in bad (1),
                         loss in good (0)
  dup=P                  duplication probability
  reorder=P:DURATION     probability a frame is held back, and by up to how much
  corrupt=P              probability of 1-3 flipped bits
  delay=DURATION         one-way delay (units ns, us, ms, s)
  jitter=DURATION        added delay, uniform from 0 to this
  rate=BITS              bottleneck rate in bits/s, k/m/g suffixes (x1000); 0 = unlimited
  queue=FRAMES           the bottleneck's queue (default 256); more are tail-dropped
  seed=N                 the PRNG's seed (default 1): the same seed replays the same fates
e.g. --both loss=1%,delay=5ms,jitter=1ms,seed=7
)";
}

}  // namespace sluice::drivers
