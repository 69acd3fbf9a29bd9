#include "tests/support/start_eal.hpp"

#include <rte_eal.h>
#include <unistd.h>

#include <vector>

namespace sluice::test {

bool start_eal(const char* program, const std::string& name, unsigned memory_mb) {
    std::vector<std::string> args = {program,
                                     "-l",
                                     "0",
                                     "--no-huge",
                                     "-m",
                                     std::to_string(memory_mb),
                                     "--no-pci",
                                     "--no-telemetry",
                                     "--file-prefix",
                                     name + "-" + std::to_string(getpid()),
                                     "--log-level",
                                     "*:error"};
    std::vector<char*> argv;
    for (std::string& a : args)
        argv.push_back(a.data());
    return rte_eal_init(static_cast<int>(argv.size()), argv.data()) >= 0;
}

}  // namespace sluice::test
