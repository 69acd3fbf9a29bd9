#include "bench/perf/protocol.hpp"

#include <charconv>
#include <cmath>

namespace sluice::perf {

namespace {
constexpr std::string_view kKinds[] = {"ready", "progress", "result", "server"};
}

std::optional<double> Message::number(std::string_view key) const {
    const auto it = fields.find(key);
    if (it == fields.end())
        return std::nullopt;
    double value = 0;
    const std::string& s = it->second;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(value))
        return std::nullopt;
    return value;
}

std::string Message::text(std::string_view key) const {
    const auto it = fields.find(key);
    return it == fields.end() ? std::string() : it->second;
}

std::optional<Message> parse_message(std::string_view line) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
        line.remove_suffix(1);
    const std::size_t space = line.find(' ');
    const std::string_view kind = line.substr(0, space);
    bool known = false;
    for (std::string_view k : kKinds)
        known = known || k == kind;
    if (!known)
        return std::nullopt;
    Message m;
    m.kind = std::string(kind);
    if (space == std::string_view::npos)
        return m;
    std::string_view rest = line.substr(space + 1);
    while (!rest.empty()) {
        const std::size_t next = rest.find(' ');
        const std::string_view word = rest.substr(0, next);
        const std::size_t eq = word.find('=');
        if (eq != std::string_view::npos)
            m.fields.emplace(std::string(word.substr(0, eq)), std::string(word.substr(eq + 1)));
        if (next == std::string_view::npos)
            break;
        rest = rest.substr(next + 1);
    }
    return m;
}

}  // namespace sluice::perf
