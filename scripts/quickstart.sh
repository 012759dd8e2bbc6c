#!/usr/bin/env bash
# Starts a single-node Skiff cluster in the foreground: a name server on 127.0.0.1:9876 (dashboard on
# http://127.0.0.1:8080/dashboard/) and a broker on 127.0.0.1:10911 (its own dashboard on :10914)
# with data under ./data. Ctrl-C (or SIGTERM) stops both gracefully. SKIFF_DASHBOARD_PORT changes 8080.
#   ./scripts/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p data
cat > data/namesrv.toml <<TOML
listenPort = 9876
bindAddress = "127.0.0.1"
kvConfigPath = "./data/namesrv/kvConfig.json"
httpPort = ${SKIFF_DASHBOARD_PORT:-8080}
TOML
bin/mqnamesrv -c data/namesrv.toml &
ns=$!
stop() {
  kill -TERM "${br:-}" 2>/dev/null || true
  wait "${br:-}" 2>/dev/null || true
  kill -TERM "$ns" 2>/dev/null || true
  wait "$ns" 2>/dev/null || true
}
trap stop INT TERM EXIT
for _ in $(seq 1 1200); do
  (exec 3<>/dev/tcp/127.0.0.1/9876) 2>/dev/null && break
  sleep 0.1
done
bin/mqbroker -c conf/broker.toml &
br=$!
echo "Dashboard of the cluster: http://127.0.0.1:${SKIFF_DASHBOARD_PORT:-8080}/dashboard/ (this broker alone: http://127.0.0.1:10914/dashboard/)"
wait "$br"
