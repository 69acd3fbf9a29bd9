// Everything a program on Sluice needs (docs/sdk.md), and short names for it in namespace sluice.
#pragma once

#include <sluice/addresses.hpp>
#include <sluice/application.hpp>
#include <sluice/congestion.hpp>
#include <sluice/connection.hpp>
#include <sluice/four_tuple.hpp>
#include <sluice/result.hpp>
#include <sluice/sockets.hpp>
#include <sluice/tcp_state.hpp>
#include <sluice/time.hpp>

namespace sluice {

using api::CloseReason;
using api::Connection;
using api::ConnectionHandler;
using api::ConnectionInfo;
using api::Errno;
using api::ListenHandler;
using api::SocketEvent;
using api::Sockets;
using flow::FourTuple;
using tcp::TcpState;
using tcp::congestion::Algorithm;

}  // namespace sluice
