// How a worker's flow index hashes a 4-tuple.
//
// By default CRC32-C (FourTupleCrcHash). When the device's RSS is programmed with a key and table
// the engine knows (drivers/rss.hpp), it is instead the Toeplitz hash of the tuple as the NIC sees
// a received segment (remote -> local): the very value the NIC writes into the mbuf, so the
// receive path looks a segment up without hashing it at all. Inserts and erases, once per
// connection, pay for the software Toeplitz hash.
//
// Chosen once at start-up; the per-call branch is on a pointer that never changes, so it predicts
// perfectly.
#pragma once

#include <cstdint>

#include <sluice/four_tuple.hpp>
#include "dataplane/flow/open_addressing_index.hpp"
#include "dataplane/flow/rss_model.hpp"

namespace sluice::flow {

class FlowHash {
  public:
    FlowHash() = default;
    // `device` must outlive the hash; null means CRC32-C.
    explicit FlowHash(const RssModel* device) : device_(device) {}

    std::uint32_t operator()(const FourTuple& key) const {
        if (device_ != nullptr) {
            return device_->hash(key.remote_ip, key.local_ip, key.remote_port, key.local_port);
        }
        return FourTupleCrcHash{}(key);
    }
    // True when a received segment's RSS hash from the device equals this hash of its tuple.
    bool is_device_hash() const { return device_ != nullptr; }

  private:
    const RssModel* device_ = nullptr;
};

}  // namespace sluice::flow
