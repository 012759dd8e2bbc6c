#!/usr/bin/env bash
# measure-restart.sh SIZE_MIB [STORE_DIR]
#
# Fills a broker's commit log with SIZE_MIB MiB of 1 KiB messages (mqbench producer), then measures
# how long the broker takes from exec to "recovered, registered and serving" (/readyz 200) in four
# cases: after a clean stop (SIGTERM) and after kill -9, each with a warm and a cold page cache
# (cold: sync; echo 3 > /proc/sys/vm/drop_caches, which needs root). It prints one line per case
# with the broker's own recovery log line. Run it under the heavy lock and delete the store after:
#
#	flock /work/locks/heavy.lock scripts/measure-restart.sh 10240 /work/tmp/restart-10g
#
# The store folder is removed at the end unless KEEP_STORE=1. FILL_OFFLINE=1 fills the log with
# the store's own code (commitlog's TestCommitLogFillStoreForMeasurement) instead of mqbench.
set -euo pipefail
size_mib=${1:?usage: measure-restart.sh SIZE_MIB [STORE_DIR]}
store=${2:-$(mktemp -d)/store}
root=$(cd "$(dirname "$0")/.." && pwd)
make -C "$root" build >/dev/null
bin=$root/build
work=$(mktemp -d)
ns_port=${NS_PORT:-19876}
br_port=${BR_PORT:-20911}
http_port=$((br_port + 3))
mkdir -p "$store"
for p in $ns_port $br_port $http_port; do
	if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "port $p is in use" >&2; exit 1; fi
done

cat >"$work/namesrv.toml" <<EOF
listenPort = $ns_port
kvConfigPath = "$work/kv.json"
EOF
cat >"$work/broker.toml" <<EOF
brokerClusterName = "MeasureCluster"
brokerName = "broker-m"
brokerId = 0
namesrvAddr = "127.0.0.1:$ns_port"
listenPort = $br_port
haListenPort = $((br_port + 1))
httpPort = $http_port
bindAddress = "127.0.0.1"
brokerIP1 = "127.0.0.1"
storePathRootDir = "$store"
brokerRole = "ASYNC_MASTER"
flushDiskType = "ASYNC_FLUSH"
EOF

"$bin/mqnamesrv" -c "$work/namesrv.toml" >"$work/namesrv.out" 2>&1 &
ns_pid=$!
broker_pid=
cleanup() {
	[ -n "$broker_pid" ] && kill -9 "$broker_pid" 2>/dev/null || true
	kill "$ns_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	if [ "${KEEP_STORE:-0}" != 1 ]; then rm -rf "$store"; fi
	rm -rf "$work"
}
trap cleanup EXIT

start_broker() { # sets ready_ms: milliseconds from exec to /readyz 200
	local t0 t1
	t0=$(date +%s%N)
	"$bin/mqbroker" -c "$work/broker.toml" >>"$work/broker.out" 2>&1 &
	broker_pid=$!
	until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/readyz" 2>/dev/null)" = 200 ]; do
		kill -0 "$broker_pid" 2>/dev/null || { echo "broker exited:" >&2; tail -20 "$work/broker.out" >&2; exit 1; }
		sleep 0.01
	done
	t1=$(date +%s%N)
	ready_ms=$(((t1 - t0) / 1000000))
}
stop_broker() { # clean|kill
	if [ "$1" = kill ]; then kill -9 "$broker_pid"; else kill -TERM "$broker_pid"; fi
	wait "$broker_pid" 2>/dev/null || true
	broker_pid=
}
produce() { # count
	"$bin/mqbench" producer -n "127.0.0.1:$ns_port" -t RestartBench -s 1024 -w 8 -b 32 -c "$1" --json >"$work/bench.json" 2>&1 ||
		{ echo "mqbench failed:" >&2; tail -5 "$work/bench.json" >&2; exit 1; }
}
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

t0=$(date +%s)
if [ "${FILL_OFFLINE:-0}" = 1 ]; then
	# The store's own code writes the log directly (about 10x faster than a producer on 2 cores).
	(cd "$root" && SKIFF_FILL_STORE=$store SKIFF_FILL_MIB=$size_mib go test -count=1 -timeout 60m \
		-run '^TestCommitLogFillStoreForMeasurement$' ./commitlog/ >"$work/fill.out" 2>&1) ||
		{ tail -20 "$work/fill.out" >&2; exit 1; }
	start_broker
else
	start_broker
	produce $((size_mib * 1024 * 1024 / 1200)) # ~1.2 KB per stored record
fi
echo "filled the commit log with ${size_mib} MiB in $(($(date +%s) - t0)) s"

for stop in clean kill; do
	for cache in warm cold; do
		if [ "$stop" = kill ]; then produce 20000; fi # a checkpoint that lags the log, as in a crash under load
		stop_broker "$stop"
		if [ "$cache" = cold ]; then drop_caches; fi
		start_broker
		line=$(grep 'store recovered' "$store/logs/broker.log" | tail -1 | grep -o 'crashed=[a-z]*.*' | cut -c1-400)
		echo "size=${size_mib}MiB stop=$stop cache=$cache ready_ms=$ready_ms | $line"
	done
done
stop_broker clean
