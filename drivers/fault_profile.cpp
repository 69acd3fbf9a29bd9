#include "drivers/fault_profile.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>
#include <vector>

namespace sluice::drivers {

namespace {

using Refusal = std::optional<std::string>;

// The longest delay a profile may ask for: an hour is far beyond any RTO worth testing, and keeps
// every sum of times far from overflowing.
constexpr double kMaxDurationNs = 3600e9;
constexpr double kMaxRateBps = 1e13;
constexpr std::uint32_t kMaxQueueFrames = 1 << 20;

std::optional<double> parse_decimal(std::string_view text) {
    double v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(v))
        return std::nullopt;
    return v;
}

std::optional<double> parse_probability(std::string_view text) {
    double scale = 1;
    if (!text.empty() && text.back() == '%') {
        text.remove_suffix(1);
        scale = 100;
    }
    const auto v = parse_decimal(text);
    if (!v || *v < 0 || *v / scale > 1)
        return std::nullopt;
    return *v / scale;
}

std::optional<Nanos> parse_duration(std::string_view text) {
    struct Unit {
        std::string_view suffix;
        double ns;
    };
    // "ms" before "s", "us" and "ns" before "s": the longest suffix that matches wins.
    static constexpr std::array<Unit, 4> kUnits{{{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}}};
    for (const Unit& u : kUnits) {
        if (text.size() <= u.suffix.size() || !text.ends_with(u.suffix))
            continue;
        const auto v = parse_decimal(text.substr(0, text.size() - u.suffix.size()));
        if (!v || *v < 0 || *v * u.ns > kMaxDurationNs)
            return std::nullopt;
        return Nanos(std::llround(*v * u.ns));
    }
    return std::nullopt;
}

std::optional<std::uint64_t> parse_rate(std::string_view text) {
    const char suffix = text.empty() ? '\0' : static_cast<char>(std::tolower(text.back()));
    const double scale = suffix == 'k' ? 1e3 : suffix == 'm' ? 1e6 : suffix == 'g' ? 1e9 : 1;
    if (scale != 1)
        text.remove_suffix(1);
    const auto v = parse_decimal(text);
    if (!v || *v < 0 || *v * scale > kMaxRateBps)
        return std::nullopt;
    return static_cast<std::uint64_t>(std::llround(*v * scale));
}

template <typename Int>
std::optional<Int> parse_whole(std::string_view text, Int min, Int max) {
    Int v{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || v < min || v > max)
        return std::nullopt;
    return v;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    while (true) {
        const auto at = text.find(separator);
        parts.push_back(text.substr(0, at));
        if (at == std::string_view::npos)
            return parts;
        text.remove_prefix(at + 1);
    }
}

constexpr const char* kProbability = "a probability from 0 to 1, or a percentage, e.g. 0.05 or 5%";
constexpr const char* kDuration = "a duration with a unit (ns, us, ms, s), e.g. 2ms or 1.5us";

Refusal set_probability(double& field, std::string_view value) {
    const auto p = parse_probability(value);
    if (!p)
        return std::string("expected ") + kProbability;
    field = *p;
    return std::nullopt;
}

Refusal set_duration(Nanos& field, std::string_view value) {
    const auto d = parse_duration(value);
    if (!d)
        return std::string("expected ") + kDuration + ", at most 3600s";
    field = *d;
    return std::nullopt;
}

Refusal set_burst(GilbertElliott& ge, std::string_view value) {
    const auto parts = split(value, ':');
    constexpr const char* kShape =
        "expected GOOD_TO_BAD:BAD_TO_GOOD[:LOSS_IN_BAD[:LOSS_IN_GOOD]], each a probability, "
        "e.g. 0.01:0.3";
    if (parts.size() < 2 || parts.size() > 4)
        return std::string(kShape);
    GilbertElliott out;
    std::array<double*, 4> fields{&out.p_good_to_bad, &out.p_bad_to_good, &out.loss_in_bad,
                                  &out.loss_in_good};
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const auto p = parse_probability(parts[i]);
        if (!p)
            return std::string(kShape);
        *fields[i] = *p;
    }
    if (out.p_good_to_bad > 0 && out.p_bad_to_good == 0)
        return std::string("BAD_TO_GOOD must be above 0, or the link never leaves the bad state");
    ge = out;
    return std::nullopt;
}

Refusal set_reorder(FaultProfile& f, std::string_view value) {
    const auto parts = split(value, ':');
    constexpr const char* kShape =
        "expected PROBABILITY:MAX_EXTRA_DELAY, e.g. 0.1:2ms (a probability from 0 to 1 or a "
        "percentage; a duration with a unit: ns, us, ms, s)";
    if (parts.size() != 2)
        return std::string(kShape);
    const auto p = parse_probability(parts[0]);
    const auto d = parse_duration(parts[1]);
    if (!p || !d)
        return std::string(kShape);
    if (*p > 0 && *d == Nanos{0})
        return std::string("a frame held back by 0 is not reordered: give a delay above 0");
    f.reorder = *p;
    f.reorder_delay = *d;
    return std::nullopt;
}

Refusal apply(FaultProfile& f, std::string_view key, std::string_view value) {
    if (key == "loss")
        return set_probability(f.loss, value);
    if (key == "burst")
        return set_burst(f.burst, value);
    if (key == "dup")
        return set_probability(f.duplicate, value);
    if (key == "reorder")
        return set_reorder(f, value);
    if (key == "corrupt")
        return set_probability(f.corrupt, value);
    if (key == "delay")
        return set_duration(f.delay, value);
    if (key == "jitter")
        return set_duration(f.jitter, value);
    if (key == "rate") {
        const auto r = parse_rate(value);
        if (!r)
            return std::string(
                "expected bits per second with an optional k, m or g suffix (x1000), e.g. 100m "
                "or 1g; 0 for no limit");
        f.rate_bps = *r;
        return std::nullopt;
    }
    if (key == "queue") {
        const auto q = parse_whole<std::uint32_t>(value, 1, kMaxQueueFrames);
        if (!q)
            return std::string("expected a whole number of frames from 1 to 1048576");
        f.queue_frames = *q;
        return std::nullopt;
    }
    if (key == "seed") {
        const auto s = parse_whole<std::uint64_t>(value, 0, UINT64_MAX);
        if (!s)
            return std::string("expected a whole number from 0 to 18446744073709551615");
        f.seed = *s;
        return std::nullopt;
    }
    return std::string(
        "unknown key; allowed: loss, burst, dup, reorder, corrupt, delay, jitter, "
        "rate, queue, seed");
}

// The shortest text that reads back as the same double.
std::string decimal(double v) {
    std::array<char, 32> buffer{};
    const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), v);
    return std::string(buffer.data(), ec == std::errc{} ? end : buffer.data());
}

// In the largest unit that divides it exactly, so that it reads back unchanged.
std::string duration(Nanos d) {
    const std::int64_t ns = d.count();
    if (ns != 0 && ns % 1'000'000'000 == 0)
        return std::to_string(ns / 1'000'000'000) + "s";
    if (ns != 0 && ns % 1'000'000 == 0)
        return std::to_string(ns / 1'000'000) + "ms";
    if (ns != 0 && ns % 1'000 == 0)
        return std::to_string(ns / 1'000) + "us";
    return std::to_string(ns) + "ns";
}

std::string rate(std::uint64_t bps) {
    if (bps != 0 && bps % 1'000'000'000 == 0)
        return std::to_string(bps / 1'000'000'000) + "g";
    if (bps != 0 && bps % 1'000'000 == 0)
        return std::to_string(bps / 1'000'000) + "m";
    if (bps != 0 && bps % 1'000 == 0)
        return std::to_string(bps / 1'000) + "k";
    return std::to_string(bps);
}

}  // namespace

bool FaultProfile::transparent() const {
    return loss == 0 && !burst.may_lose() && duplicate == 0 && reorder == 0 && corrupt == 0 &&
           delay == Nanos{0} && jitter == Nanos{0} && rate_bps == 0;
}

std::string FaultProfile::to_string() const {
    const FaultProfile defaults;
    std::string out;
    const auto add = [&out](const std::string& piece) { out += (out.empty() ? "" : ",") + piece; };
    if (loss != defaults.loss)
        add("loss=" + decimal(loss));
    if (burst != defaults.burst) {
        add("burst=" + decimal(burst.p_good_to_bad) + ":" + decimal(burst.p_bad_to_good) + ":" +
            decimal(burst.loss_in_bad) + ":" + decimal(burst.loss_in_good));
    }
    if (duplicate != defaults.duplicate)
        add("dup=" + decimal(duplicate));
    if (reorder != defaults.reorder || reorder_delay != defaults.reorder_delay)
        add("reorder=" + decimal(reorder) + ":" + duration(reorder_delay));
    if (corrupt != defaults.corrupt)
        add("corrupt=" + decimal(corrupt));
    if (delay != defaults.delay)
        add("delay=" + duration(delay));
    if (jitter != defaults.jitter)
        add("jitter=" + duration(jitter));
    if (rate_bps != defaults.rate_bps)
        add("rate=" + rate(rate_bps));
    if (queue_frames != defaults.queue_frames)
        add("queue=" + std::to_string(queue_frames));
    add("seed=" + std::to_string(seed));
    return out;
}

Result<FaultProfile, std::string> parse_fault_profile(std::string_view text) {
    FaultProfile profile;
    if (text.empty() || text == "none")
        return profile;
    std::vector<std::string_view> seen;
    for (const std::string_view piece : split(text, ',')) {
        const auto eq = piece.find('=');
        if (eq == std::string_view::npos || eq == 0) {
            return Unexpected{"'" + std::string(piece) +
                              "': expected key=value, e.g. loss=0.05 (keys: loss, burst, dup, "
                              "reorder, corrupt, delay, jitter, rate, queue, seed)"};
        }
        const std::string_view key = piece.substr(0, eq);
        const std::string_view value = piece.substr(eq + 1);
        for (const std::string_view s : seen) {
            if (s == key)
                return Unexpected{std::string(key) + ": given twice; each key may appear once"};
        }
        seen.push_back(key);
        if (const Refusal r = apply(profile, key, value))
            return Unexpected{std::string(key) + " '" + std::string(value) + "': " + *r};
    }
    return profile;
}

}  // namespace sluice::drivers
