// The congestion-control algorithms a connection may use (the engine's --congestion, or
// Connection::set_congestion for one connection).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::tcp::congestion {

enum class Algorithm : std::uint8_t {
    NewReno,  // RFC 5681, RFC 6582
    Cubic,    // RFC 9438
};

inline constexpr Algorithm kDefaultAlgorithm = Algorithm::Cubic;

// "newreno" or "cubic".
std::string_view algorithm_name(Algorithm a);
// "newreno" or "cubic"; nothing for anything else.
std::optional<Algorithm> parse_algorithm(std::string_view name);

}  // namespace sluice::tcp::congestion
