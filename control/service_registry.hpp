// The services a program offers by name: what --serve NAME:PORT, the config file's serve = and
// `sluicectl listen NAME:PORT` look up. The built-in ones (builtin_services.hpp) are registered
// the same way as a program's own; nothing else in the engine knows any service.
//
// Filled before the engine starts, read afterwards (the telemetry thread looks names up while the
// workers run): not to be changed once Engine::start has been called.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sluice/application.hpp>
#include <sluice/result.hpp>

namespace sluice::control {

struct ServiceEntry {
    std::string name;
    std::string summary;  // one line for --help and `sluicectl services`
    ServiceFactory factory;
};

class ServiceRegistry {
  public:
    // Refuses an empty or malformed name (letters, digits, '-' and '_' only, at most 32), a name
    // already taken, and an empty factory.
    Status<std::string> add(std::string name, std::string summary, ServiceFactory factory);
    const ServiceEntry* find(std::string_view name) const;
    std::vector<std::string> names() const;
    std::span<const ServiceEntry> entries() const { return entries_; }
    // "Services:" and one line each, for --help.
    std::string usage() const;

  private:
    std::vector<ServiceEntry> entries_;
};

}  // namespace sluice::control
