#include "control/service_registry.hpp"

#include <algorithm>

namespace sluice::control {

namespace {
constexpr std::size_t kMaxNameLength = 32;

bool well_formed(std::string_view name) {
    return !name.empty() && name.size() <= kMaxNameLength &&
           std::all_of(name.begin(), name.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_';
           });
}
}  // namespace

Status<std::string> ServiceRegistry::add(std::string name, std::string summary,
                                         ServiceFactory factory) {
    if (!well_formed(name)) {
        return Unexpected{"service name '" + name +
                          "': expected 1 to 32 letters, digits, '-' or '_'"};
    }
    if (find(name) != nullptr)
        return Unexpected{"service name '" + name + "' is already registered"};
    if (!factory)
        return Unexpected{"service '" + name + "': no factory"};
    entries_.push_back({std::move(name), std::move(summary), std::move(factory)});
    return {};
}

const ServiceEntry* ServiceRegistry::find(std::string_view name) const {
    for (const ServiceEntry& e : entries_) {
        if (e.name == name)
            return &e;
    }
    return nullptr;
}

std::vector<std::string> ServiceRegistry::names() const {
    std::vector<std::string> out;
    for (const ServiceEntry& e : entries_)
        out.push_back(e.name);
    return out;
}

std::string ServiceRegistry::usage() const {
    std::string out = "Services (for --serve NAME:PORT and sluicectl listen NAME:PORT):\n";
    if (entries_.empty())
        out += "  (none)\n";
    for (const ServiceEntry& e : entries_) {
        std::string line = "  " + e.name;
        line.append(line.size() < 26 ? 26 - line.size() : 1, ' ');
        out += line + e.summary + "\n";
    }
    return out;
}

}  // namespace sluice::control
