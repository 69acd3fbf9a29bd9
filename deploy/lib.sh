# Shared by the deploy scripts: package installation and the build. Source it; do not run it.

SLUICE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Everything the engine, its tests and its demo need, from Debian 12's own packages.
SLUICE_PACKAGES=(
  build-essential g++ meson ninja-build pkg-config
  libdpdk-dev dpdk dpdk-dev libnuma-dev libpcap-dev
  libsodium-dev libgtest-dev libbenchmark-dev
  python3 python3-pytest python3-scapy
  iproute2 iputils-ping iputils-arping ethtool iptables procps
  curl wrk netcat-openbsd gnuplot-nox
)

die() { echo "sluice: $*" >&2; exit 1; }

require_root() {
  [ "$(id -u)" -eq 0 ] || die "run this as root (it installs packages and creates network namespaces)"
}

# Installs what is missing; does nothing (and needs no network) when all is there.
ensure_packages() {
  local missing=()
  for p in "${SLUICE_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "sluice: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install failed for: ${missing[*]}"
}

# build_tree DIR [meson options...]: configures DIR once, then brings it up to date.
build_tree() {
  local dir=$1; shift
  if [ ! -f "$SLUICE_ROOT/$dir/build.ninja" ]; then
    meson setup "$SLUICE_ROOT/$dir" "$SLUICE_ROOT" "$@" >/dev/null || die "meson setup $dir failed"
  elif [ "${SLUICE_ENFORCE_OPTIONS:-0}" = 1 ]; then
    # The tests need their options even in a tree the demo set up without tests.
    meson configure "$SLUICE_ROOT/$dir" "$@" >/dev/null || die "meson configure $dir failed"
  fi
  ninja -C "$SLUICE_ROOT/$dir" >/dev/null || { ninja -C "$SLUICE_ROOT/$dir"; die "build of $dir failed"; }
}

# A veth pair into a fresh namespace. Sets NS, HOST_IF (engine side), PEER_IF.
# Names are unique per process, short enough for IFNAMSIZ.
make_veth_namespace() {
  local tag=$1 peer_cidr=$2
  NS="sluice-$tag-$$"
  HOST_IF="sl${tag:0:3}$$"; HOST_IF=${HOST_IF:0:15}
  PEER_IF="sp${tag:0:3}$$"; PEER_IF=${PEER_IF:0:15}
  ip netns add "$NS"
  ip link add "$HOST_IF" type veth peer name "$PEER_IF"
  ip link set "$PEER_IF" netns "$NS"
  ip link set "$HOST_IF" up
  ip -n "$NS" link set lo up
  ip -n "$NS" link set "$PEER_IF" up
  ip -n "$NS" addr add "$peer_cidr" dev "$PEER_IF"
  # veth leaves checksums partial when offloads are on; the engine wants whole ones.
  ip netns exec "$NS" ethtool -K "$PEER_IF" tx off rx off >/dev/null 2>&1 || true
  # The engine's end has no address, so the kernel stays out of the conversation.
  sysctl -qw "net.ipv6.conf.$HOST_IF.disable_ipv6=1" 2>/dev/null || true
}

remove_veth_namespace() {
  [ -n "${HOST_IF:-}" ] && ip link del "$HOST_IF" 2>/dev/null
  [ -n "${NS:-}" ] && ip netns del "$NS" 2>/dev/null
  return 0
}
