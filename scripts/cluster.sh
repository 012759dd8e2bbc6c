#!/usr/bin/env bash
# Starts or stops a whole two-master/two-slave cluster on this machine, as RocketMQ's cluster guide
# deploys it: two name servers (127.0.0.1:9876 and :9877), then every broker of a conf/ layout.
#   scripts/cluster.sh start [2m-2s-sync|2m-2s-async|2m-noslave]   (default 2m-2s-sync)
#   scripts/cluster.sh start controller   three name servers running the failover controller
#                                         (:9876, :9877, :9879) and three replicas of broker-a
#                                         in controller mode (conf/controller/)
#   scripts/cluster.sh status
#   scripts/cluster.sh stop
# Data and logs go under ./data/<layout>/; pid files under ./data/run.
set -euo pipefail
cd "$(dirname "$0")/.."
export SKIFF_PID_DIR="$PWD/data/run"
NS="127.0.0.1:9876;127.0.0.1:9877"
cmd=${1:-}
layout=${2:-2m-2s-sync}

wait_port() {
  for _ in $(seq 1 1200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "port $1 did not open" >&2
  return 1
}

if [ "$layout" = controller ]; then
  NS="127.0.0.1:9876;127.0.0.1:9877;127.0.0.1:9879"
fi

case "$cmd" in
start)
  [ -d "conf/$layout" ] || { echo "no such layout: conf/$layout" >&2; exit 1; }
  if [ "$layout" = controller ]; then
    mkdir -p data/controller "$SKIFF_PID_DIR"
    for f in conf/controller/namesrv-*.toml; do
      name=$(basename "$f" .toml)
      nohup bin/mqnamesrv -c "$f" > "data/controller/$name.out" 2>&1 &
      wait_port "$(sed -n 's/^listenPort = //p' "$f")"
      echo "started $name"
    done
    for f in conf/controller/broker-*.toml; do
      name=$(basename "$f" .toml)
      nohup bin/mqbroker -c "$f" -n "$NS" > "data/controller/$name.out" 2>&1 &
      wait_port "$(sed -n 's/^listenPort = //p' "$f")"
      echo "started $name"
    done
    sleep 3
    bin/mqadmin getSyncStateSet -n "$NS" -b broker-a
    exit 0
  fi
  mkdir -p "data/$layout" "$SKIFF_PID_DIR"
  for port in 9876 9877; do
    printf 'listenPort = %s\nkvConfigPath = "./data/%s/namesrv-%s/kvConfig.json"\n' "$port" "$layout" "$port" > "data/$layout/namesrv-$port.toml"
    nohup bin/mqnamesrv -c "data/$layout/namesrv-$port.toml" > "data/$layout/namesrv-$port.out" 2>&1 &
    wait_port "$port"
  done
  for f in conf/"$layout"/*.toml; do
    name=$(basename "$f" .toml)
    port=$(sed -n 's/^listenPort = //p' "$f")
    nohup bin/mqbroker -c "$f" -n "$NS" > "data/$layout/$name.out" 2>&1 &
    wait_port "$port"
    echo "started $name on 127.0.0.1:$port"
  done
  sleep 1
  bin/mqadmin clusterList -n "$NS"
  ;;
status)
  bin/mqadmin clusterList -n "$NS"
  if [ "$layout" = controller ]; then bin/mqadmin getSyncStateSet -n "$NS"; fi
  ;;
stop)
  bin/mqshutdown broker || true
  sleep 2
  bin/mqshutdown namesrv || true
  ;;
*)
  echo "usage: scripts/cluster.sh start [2m-2s-sync|2m-2s-async|2m-noslave|controller] | status [controller] | stop" >&2
  exit 1
  ;;
esac
