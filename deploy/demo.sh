#!/usr/bin/env bash
# The main job on the embedded default: builds Sluice, starts it on one end of a veth pair through
# net_af_packet (EAL with --no-huge), and has Linux tools in a namespace on the other end talk to it.
# Cleans up after itself on every exit, Ctrl-C included.
#
#   deploy/demo.sh            run the demonstration and exit
#   deploy/demo.sh --hold     keep the engine up afterwards, until Ctrl-C, to try things by hand
set -uo pipefail
source "$(dirname "$0")/lib.sh"

hold=0
case "${1:-}" in
  "") ;;
  --hold) hold=1 ;;
  -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
  *) die "unknown argument '$1' (allowed: --hold)" ;;
esac

require_root
ensure_packages
echo "== building (meson, ninja) in build/"
build_tree build -Dtests=false -Dbenchmarks=false

ENGINE_IP=10.77.0.2
PEER_IP=10.77.0.1
ENGINE_PID=""
LOG=$(mktemp /tmp/sluice-demo.XXXXXX)

cleanup() {
  trap - EXIT INT TERM
  if [ -n "$ENGINE_PID" ] && kill -0 "$ENGINE_PID" 2>/dev/null; then
    kill -INT "$ENGINE_PID"
    for _ in $(seq 50); do kill -0 "$ENGINE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$ENGINE_PID" 2>/dev/null
    wait "$ENGINE_PID" 2>/dev/null
    echo "== the engine's counters on exit"
    sed -n '/^sluice: counters/,$p' "$LOG"
  fi
  remove_veth_namespace
  rm -f "$LOG"
  echo "== cleaned up: namespace, veth pair and engine are gone"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

make_veth_namespace demo "$PEER_IP/24"
echo "== namespace $NS holds $PEER_IF ($PEER_IP/24); the engine takes $HOST_IF"

ENGINE_CMD=("$SLUICE_ROOT/build/control/sluice" -l 0 --no-huge -m 256 --no-pci
  --file-prefix "sluice-demo-$$" --vdev "net_af_packet0,iface=$HOST_IF"
  -- --addr "$ENGINE_IP/24" --serve http:80 --serve echo:7)
echo "== starting: ${ENGINE_CMD[*]}"
"${ENGINE_CMD[@]}" >"$LOG" 2>&1 &
ENGINE_PID=$!
for _ in $(seq 300); do
  grep -q '^sluice: ready' "$LOG" && break
  kill -0 "$ENGINE_PID" 2>/dev/null || { cat "$LOG"; die "the engine exited during start-up"; }
  sleep 0.1
done
grep '^sluice: ready' "$LOG" || { cat "$LOG"; die "the engine did not become ready in 30 s"; }
grep -E '^sluice\.driver' "$LOG" | sed 's/^/   /'

echo "== ping from the namespace"
ip netns exec "$NS" ping -c 5 -i 0.2 -W 2 "$ENGINE_IP"
echo "== arping from the namespace (resolves the engine's MAC)"
ip netns exec "$NS" arping -c 3 -I "$PEER_IF" "$ENGINE_IP"
echo "== the namespace's neighbour table"
ip -n "$NS" neigh show dev "$PEER_IF"
echo "== curl fetches from the engine's HTTP server"
ip netns exec "$NS" curl -sS -D - -o /dev/null -w 'curl: %{http_code}, %{size_download} bytes in %{time_total} s\n' \
  "http://$ENGINE_IP/"
ip netns exec "$NS" curl -sS -o /dev/null -w 'curl: 64 MiB at %{speed_download} bytes/s\n' \
  "http://$ENGINE_IP/bytes/67108864"
echo "== curl to a port with no listener is refused at once (the engine answers with a RST)"
ip netns exec "$NS" curl -sS "http://$ENGINE_IP:81/" 2>&1 | sed 's/^/   /'
echo "== wrk -c 50 -t 2 -d 3s against the engine (one worker on one core; veth and af_packet are slow)"
ip netns exec "$NS" wrk -c 50 -t 2 -d 3s "http://$ENGINE_IP/"

echo "== sluicectl: the engine's own view through rte_telemetry, while a slow curl download runs"
ip netns exec "$NS" curl -s -o /dev/null --limit-rate 50k --max-time 3 \
  "http://$ENGINE_IP/bytes/10000000" &
CURL_PID=$!
sleep 1
SLUICECTL=("$SLUICE_ROOT/control/sluicectl" -f "sluice-demo-$$")
"${SLUICECTL[@]}" conns
"${SLUICECTL[@]}" workers
echo "== sluicectl listen: an echo service on port 7007 while the engine runs"
"${SLUICECTL[@]}" listen echo:7007
"${SLUICECTL[@]}" listeners
wait "$CURL_PID" 2>/dev/null

if [ "$hold" -eq 1 ]; then
  echo "== holding; try: ip netns exec $NS ping $ENGINE_IP, or control/sluicectl -f sluice-demo-$$ stats    (Ctrl-C here to stop)"
  wait "$ENGINE_PID"
fi
