// Durations as the engine and its programs measure them.
#pragma once

#include <chrono>

namespace sluice {

// Nanoseconds since a clock's own epoch, or a duration. Only differences between two readings of
// the same clock mean anything.
using Nanos = std::chrono::nanoseconds;

}  // namespace sluice
