// The DPDK Environment Abstraction Layer, initialised once per process and cleaned up when the
// guard goes out of scope.
#pragma once

#include <memory>
#include <string>

#include <sluice/result.hpp>

namespace sluice::drivers {

class Eal {
  public:
    // Hands argv (up to and including "--", as DPDK applications do) to rte_eal_init. On success,
    // `consumed` is the number of arguments EAL took, so argv + consumed is the application's.
    static Result<std::unique_ptr<Eal>, std::string> init(int argc, char** argv, int& consumed);
    ~Eal();
    Eal(const Eal&) = delete;
    Eal& operator=(const Eal&) = delete;

  private:
    Eal() = default;
};

}  // namespace sluice::drivers
