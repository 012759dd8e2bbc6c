#!/bin/bash
# Broker allocations per message on the whole path: runtime.MemStats.Mallocs of a broker process
# (read from its /debug/pprof/allocs?debug=1) around N asynchronous 1 KiB sends of
# `mqbench producer --async -w 4`, after a warm-up of N/10 that creates the topic.
#
#   scripts/bench-broker-allocs.sh <mqbench binary> <folder with mqnamesrv and mqbroker>...
#   N=200000 FLUSH=SYNC_FLUSH scripts/bench-broker-allocs.sh build/mqbench build /tmp/old
#
# Run it under the heavy lock (flock -o /work/locks/heavy.lock ...). Bounded: N messages per
# folder; the processes are stopped by PID.
set -euo pipefail
B=$1
shift
N=${N:-200000}
for d in "$@"; do
  W=$(mktemp -d /tmp/broker-allocs-XXXX)
  NS=$((20000 + RANDOM % 10000))
  BP=$((NS + 100))
  printf 'listenPort = %d\nbindAddress = "127.0.0.1"\nkvConfigPath = "%s/kv.json"\nlogLevel = "warn"\n' "$NS" "$W" > "$W/ns.toml"
  cat > "$W/b.toml" <<EOT
brokerClusterName = "BenchCluster"
brokerName = "b1"
brokerId = 0
brokerRole = "ASYNC_MASTER"
flushDiskType = "${FLUSH:-ASYNC_FLUSH}"
namesrvAddr = "127.0.0.1:$NS"
brokerIP1 = "127.0.0.1"
bindAddress = "127.0.0.1"
listenPort = $BP
haListenPort = $((BP + 1))
httpPort = $((BP + 3))
storePathRootDir = "$W/store"
autoCreateTopicEnable = true
logLevel = "warn"
EOT
  "$d/mqnamesrv" -c "$W/ns.toml" > "$W/ns.log" 2>&1 &
  NSP=$!
  sleep 1
  "$d/mqbroker" -c "$W/b.toml" > "$W/b.log" 2>&1 &
  BRP=$!
  sleep 4
  mallocs() { curl -s "http://127.0.0.1:$((BP + 3))/debug/pprof/allocs?debug=1" | awk '/^# Mallocs/ {print $4}'; }
  "$B" producer -n "127.0.0.1:$NS" -t AllocT --async -w 4 -c $((N / 10)) > /dev/null 2>&1
  m0=$(mallocs)
  "$B" producer -n "127.0.0.1:$NS" -t AllocT --async -w 4 -c "$N" --json 2> /dev/null | tr -d '\n ' > "$W/p.json"
  m1=$(mallocs)
  echo "$d ${FLUSH:-ASYNC_FLUSH}: $(awk -v a="$m0" -v b="$m1" -v n="$N" 'BEGIN{printf "%.2f", (b-a)/n}') mallocs per message over $N ($(cut -c1-200 "$W/p.json"))"
  kill "$BRP" "$NSP"
  wait "$BRP" "$NSP" 2> /dev/null || true
  rm -rf "$W"
done
