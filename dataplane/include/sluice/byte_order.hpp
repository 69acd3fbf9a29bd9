// Network byte order as types. A be16/be32 holds the bytes exactly as they are on the wire; the
// only ways in or out are from_host()/host() and from_raw()/raw(), so a missing swap does not
// compile (docs/architecture.md rule 6).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace sluice::wire {

static_assert(std::endian::native == std::endian::little ||
              std::endian::native == std::endian::big);

template <typename HostInt>
constexpr HostInt to_network_order(HostInt v) {
    if constexpr (std::endian::native == std::endian::little) {
        if constexpr (sizeof(HostInt) == 2) {
            return static_cast<HostInt>(__builtin_bswap16(v));
        } else {
            return static_cast<HostInt>(__builtin_bswap32(v));
        }
    } else {
        return v;
    }
}

template <typename HostInt>
class BigEndian {
  public:
    constexpr BigEndian() = default;
    static constexpr BigEndian from_host(HostInt v) { return BigEndian(to_network_order(v)); }
    static constexpr BigEndian from_raw(HostInt wire_bits) { return BigEndian(wire_bits); }
    constexpr HostInt host() const { return to_network_order(raw_); }
    constexpr HostInt raw() const { return raw_; }
    friend constexpr bool operator==(BigEndian, BigEndian) = default;

  private:
    constexpr explicit BigEndian(HostInt raw) : raw_(raw) {}
    HostInt raw_ = 0;
};

using be16 = BigEndian<std::uint16_t>;
using be32 = BigEndian<std::uint32_t>;
static_assert(sizeof(be16) == 2 && sizeof(be32) == 4);

// Unaligned loads and stores: packet headers are not guaranteed to be aligned (a VLAN tag shifts
// the IPv4 header by four bytes), so every access goes through memcpy, which compiles to a plain
// move.
inline be16 load_be16(const std::byte* p) {
    std::uint16_t v;
    std::memcpy(&v, p, sizeof v);
    return be16::from_raw(v);
}
inline be32 load_be32(const std::byte* p) {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return be32::from_raw(v);
}
inline void store_be16(std::byte* p, be16 v) {
    const std::uint16_t raw = v.raw();
    std::memcpy(p, &raw, sizeof raw);
}
inline void store_be32(std::byte* p, be32 v) {
    const std::uint32_t raw = v.raw();
    std::memcpy(p, &raw, sizeof raw);
}

}  // namespace sluice::wire
