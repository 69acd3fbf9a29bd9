#include "drivers/eal.hpp"

#include <rte_eal.h>
#include <rte_errno.h>

namespace sluice::drivers {

Result<std::unique_ptr<Eal>, std::string> Eal::init(int argc, char** argv, int& consumed) {
    const int n = rte_eal_init(argc, argv);
    if (n < 0) {
        return Unexpected{std::string("cannot initialise DPDK's EAL: ") + rte_strerror(rte_errno) +
                          " (check the EAL arguments before '--'; on a machine without hugepages "
                          "add --no-huge -m 256)"};
    }
    consumed = n;
    return std::unique_ptr<Eal>(new Eal());
}

Eal::~Eal() {
    rte_eal_cleanup();
}

}  // namespace sluice::drivers
