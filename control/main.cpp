// sluice: the engine binary, `sluice [EAL options] -- [engine options]` as DPDK programs go. It is
// a program on the SDK like any other (docs/sdk.md): the built-in services and nothing more.
#include <sluice/application.hpp>

int main(int argc, char** argv) {
    sluice::Application app("sluice");
    return app.run(argc, argv);
}
