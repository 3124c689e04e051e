#!/usr/bin/env bash
# Starts Debian's mosquitto with bench/peers/mosquitto.conf on the given ports,
# installing it with apt-get first when it is missing. Runs in the foreground.
# usage: bench/peers/mosquitto.sh [TCP_PORT [WS_PORT]]
set -euo pipefail
tcp_port=${1:-1883}
ws_port=${2:-8083}
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
	echo "mosquitto missing: installing Debian's package" >&2
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y mosquitto
fi
bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)

conf=$(mktemp /tmp/mosquitto-bench.XXXXXX.conf)
trap 'rm -f "$conf"' EXIT
sed -e "s/^listener 1883 /listener $tcp_port /" -e "s/^listener 8083 /listener $ws_port /" \
	"$here/mosquitto.conf" >"$conf"
echo "mosquitto on 127.0.0.1:$tcp_port (tcp) and 127.0.0.1:$ws_port (websockets)" >&2
"$bin" -c "$conf"
