#include "dataplane/tcp/queue_field.hpp"

#include <rte_errno.h>
#include <rte_mbuf_dyn.h>

namespace sluice::tcp {

namespace detail {
int g_queue_field = -1;
}

Status<std::string> register_queue_field() {
    static const rte_mbuf_dynfield kDescription = {"sluice_queue_entry", sizeof(QueueField),
                                                   alignof(QueueField), 0};
    const int offset = rte_mbuf_dynfield_register(&kDescription);
    if (offset < 0) {
        return Unexpected{std::string("cannot register the connection queues' mbuf field: ") +
                          rte_strerror(rte_errno)};
    }
    detail::g_queue_field = offset;
    return {};
}

}  // namespace sluice::tcp
