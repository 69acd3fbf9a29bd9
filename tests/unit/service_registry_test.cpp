// The services a program offers by name (control/service_registry.hpp).
#include "control/service_registry.hpp"

#include <gtest/gtest.h>

#include "control/builtin_services.hpp"

namespace sluice::control {
namespace {

std::unique_ptr<api::ListenHandler> nothing(WorkerContext&) {
    return nullptr;
}

TEST(ServiceRegistry, RefusesMalformedTakenAndEmptyRegistrations) {
    ServiceRegistry r;
    ASSERT_TRUE(r.add("kv-store_2", "ok", nothing).ok());
    const std::pair<std::string, std::string> refused[] = {
        {"", "service name '': expected 1 to 32 letters, digits, '-' or '_'"},
        {"has space", "service name 'has space': expected 1 to 32 letters, digits, '-' or '_'"},
        {"kv:80", "service name 'kv:80': expected 1 to 32 letters, digits, '-' or '_'"},
        {std::string(33, 'a'), "service name '" + std::string(33, 'a') +
                                   "': expected 1 to 32 letters, digits, '-' or '_'"},
        {"kv-store_2", "service name 'kv-store_2' is already registered"},
    };
    for (const auto& [name, message] : refused) {
        auto st = r.add(name, "", nothing);
        ASSERT_FALSE(st.ok()) << name;
        EXPECT_EQ(st.error(), message);
    }
    auto empty = r.add("fine", "", ServiceFactory{});
    ASSERT_FALSE(empty.ok());
    EXPECT_EQ(empty.error(), "service 'fine': no factory");
    EXPECT_EQ(r.names(), (std::vector<std::string>{"kv-store_2"}));
}

TEST(ServiceRegistry, TheBuiltInsAreOrdinaryEntriesListedInUsage) {
    EngineOptions options;
    ServiceRegistry r;
    register_builtin_services(r, options);
    EXPECT_EQ(r.names(), (std::vector<std::string>{"echo", "discard", "source", "http"}));
    ASSERT_NE(r.find("http"), nullptr);
    EXPECT_EQ(r.find("gopher"), nullptr);
    ASSERT_TRUE(r.add("kv", "a key-value store", nothing).ok());
    const std::string usage = r.usage();
    EXPECT_NE(usage.find("\n  echo "), std::string::npos) << usage;
    EXPECT_NE(usage.find("\n  kv                      a key-value store\n"), std::string::npos)
        << usage;
}

}  // namespace
}  // namespace sluice::control
