#!/usr/bin/env bash
# e2e-deps.sh installs what the browser end-to-end tests in engine/e2e need:
# Debian's chromium (the tests never download a browser), mosquitto-clients
# (mosquitto_pub, as in the tutorial), and the npm packages pinned in
# engine/e2e/browser/package-lock.json (playwright-core, paho-mqtt, mqtt).
#
# Idempotent and quiet when everything is already installed; safe to call
# from the test command before `go test ./engine/e2e/...`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
browser="$root/engine/e2e/browser"

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
	echo "e2e-deps: installing ${missing[*]}" >&2
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >/dev/null
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci only when node_modules is missing or older than the lock file.
stamp="$browser/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$browser/package-lock.json" -nt "$stamp" ]; then
	echo "e2e-deps: npm ci in engine/e2e/browser" >&2
	(cd "$browser" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
