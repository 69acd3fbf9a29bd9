#include <sluice/addresses.hpp>

#include <charconv>
#include <cstdio>
#include <cstring>

namespace sluice::wire {

namespace {

// Parses a decimal number in [0, max] that spans the whole of `text` (no sign, no spaces, no
// leading zeros beyond a lone "0", so "010" is not silently read as ten or eight).
std::optional<unsigned> parse_decimal(std::string_view text, unsigned max) {
    if (text.empty() || text.size() > 3 || (text.size() > 1 && text[0] == '0')) {
        return std::nullopt;
    }
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value > max) {
        return std::nullopt;
    }
    return value;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

}  // namespace

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
    // Exactly "xx:xx:xx:xx:xx:xx".
    if (text.size() != 17)
        return std::nullopt;
    std::array<std::uint8_t, 6> o{};
    for (std::size_t i = 0; i < 6; ++i) {
        const int hi = hex_digit(text[i * 3]);
        const int lo = hex_digit(text[i * 3 + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':'))
            return std::nullopt;
        o[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return MacAddress(o);
}

std::string MacAddress::to_string() const {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", octets_[0], octets_[1],
                  octets_[2], octets_[3], octets_[4], octets_[5]);
    return buf;
}

std::optional<Ipv4Address> Ipv4Address::parse(std::string_view text) {
    std::uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
        const std::size_t dot = text.find('.');
        if ((i < 3) != (dot != std::string_view::npos))
            return std::nullopt;
        const auto octet = parse_decimal(text.substr(0, dot), 255);
        if (!octet)
            return std::nullopt;
        value = value << 8 | *octet;
        text = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
    }
    return Ipv4Address(value);
}

std::string Ipv4Address::to_string() const {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", value_ >> 24, (value_ >> 16) & 0xff,
                  (value_ >> 8) & 0xff, value_ & 0xff);
    return buf;
}

std::optional<Ipv4Interface> Ipv4Interface::parse(std::string_view text) {
    const std::size_t slash = text.find('/');
    if (slash == std::string_view::npos)
        return std::nullopt;
    const auto address = Ipv4Address::parse(text.substr(0, slash));
    const auto prefix = parse_decimal(text.substr(slash + 1), 32);
    if (!address || !prefix)
        return std::nullopt;
    return Ipv4Interface{*address, static_cast<std::uint8_t>(*prefix)};
}

std::string Ipv4Interface::to_string() const {
    return address.to_string() + "/" + std::to_string(prefix_length);
}

std::optional<Ipv4Endpoint> Ipv4Endpoint::parse(std::string_view text) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos)
        return std::nullopt;
    const auto address = Ipv4Address::parse(text.substr(0, colon));
    const std::string_view digits = text.substr(colon + 1);
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (!address || digits.empty() || digits[0] == '0' || ec != std::errc{} ||
        end != digits.data() + digits.size() || port > 65535) {
        return std::nullopt;
    }
    return Ipv4Endpoint{*address, static_cast<std::uint16_t>(port)};
}

std::string Ipv4Endpoint::to_string() const {
    return address.to_string() + ":" + std::to_string(port);
}

}  // namespace sluice::wire
