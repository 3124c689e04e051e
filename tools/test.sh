#!/usr/bin/env bash
# tools/test.sh: the one command that runs Tsubame's whole test suite.
#
#   bash tools/test.sh        (from any directory; CI runs it via .ci/run)
#
# On a fresh Debian machine, as root, it first installs the external programs
# the interoperability tests drive (mosquitto, mosquitto-clients,
# python3-paho-mqtt); when everything is already installed it touches neither
# apt nor the network. Then it runs, from the repository root:
#   1. gofmt -l   (fails if any file needs formatting)
#   2. go vet ./...
#   3. go test -race -count=1 -timeout 15m ./...   (fuzz seed corpora run as
#      ordinary tests; no benchmarks, no long fuzzing)
# Every step runs even if an earlier one failed; the last line is a summary
# and the exit status is non-zero if any step failed.
#
# Environment:
#   TSUBAME_SKIP_INSTALL=1   never install packages (tests needing them skip)
#   TSUBAME_TEST_TIMEOUT     go test -timeout (default 15m)
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1

start=$(date +%s)
failed=()

log() { printf 'test.sh: %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------
# Package installs
# ---------------------------------------------------------------------------

# Debian packages the tests drive as subprocesses.
apt_packages=(mosquitto mosquitto-clients python3-paho-mqtt)

apt_updated=0
# apt_install PKG...: installs the named packages that are not installed yet,
# running apt-get update at most once per run and only when something is
# missing.
apt_install() {
	local missing=() p
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "${TSUBAME_SKIP_INSTALL:-}" = 1 ]; then
		log "not installing ${missing[*]} (TSUBAME_SKIP_INSTALL=1): tests that need them will skip"
		return 0
	fi
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
			sudo=(sudo -n)
		else
			log "missing ${missing[*]} and not root: install them as root or tests that need them will skip"
			return 0
		fi
	fi
	if [ "$apt_updated" = 0 ]; then
		log "apt-get update (missing: ${missing[*]})"
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
		apt_updated=1
	fi
	log "apt-get install ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || return 1
}

# >>> BROWSER TEST DEPENDENCIES ------------------------------------------------
# Other engineers add the npm / chromium installs needed by the browser
# (WebSocket) tests here. browser_deps_wanted decides whether they are
# installed at all; install_browser_deps does the work, using apt_install for
# Debian packages (e.g. apt_install chromium nodejs npm) and keeping the same
# rule: touch nothing when everything is already present.
browser_deps_wanted() {
	return 0 # engine/e2e and engine/adminlive drive Debian's chromium with playwright-core
}

install_browser_deps() {
	bash tools/e2e-deps.sh
}
# <<< BROWSER TEST DEPENDENCIES ------------------------------------------------

install_deps() {
	if ! command -v dpkg-query >/dev/null; then
		log "not a Debian system (no dpkg-query): install ${apt_packages[*]} yourself; tests that need them will skip"
		return 0
	fi
	apt_install "${apt_packages[@]}" || return 1
	if browser_deps_wanted; then
		install_browser_deps || return 1
	fi
}

# ---------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------

if ! command -v go >/dev/null; then
	log "go not found on PATH: install Go $(sed -n 's/^go //p' go.mod) first"
	exit 1
fi

step() { # step NAME CMD...: runs CMD, records NAME as failed if it fails
	local name=$1
	shift
	log "== $name"
	if ! "$@"; then
		failed+=("$name")
		log "== $name FAILED"
	fi
}

check_gofmt() {
	# testdata may hold deliberately malformed Go; .git is not ours to check.
	local out
	out=$(find . -name '*.go' -not -path '*/testdata/*' -not -path './.git/*' -print0 | xargs -0 gofmt -l) || return 1
	if [ -n "$out" ]; then
		printf 'needs gofmt: %s\n' $out >&2
		return 1
	fi
}

test_log=$(mktemp)
trap 'rm -f "$test_log"' EXIT

run_tests() {
	go test -race -count=1 -timeout "${TSUBAME_TEST_TIMEOUT:-15m}" ./... 2>&1 | tee "$test_log"
}

step install install_deps
step gofmt check_gofmt
step vet go vet ./...
step test run_tests

pkgs_ok=$(grep -c '^ok ' "$test_log" || true)
secs=$(($(date +%s) - start))
if [ ${#failed[@]} -eq 0 ]; then
	printf 'test.sh: PASS: gofmt, vet and tests clean; %s packages ok in %ss\n' "$pkgs_ok" "$secs"
	exit 0
fi
bad=$(grep -E '^FAIL\s' "$test_log" | awk '{print $2}' | sort -u | tr '\n' ' ')
printf 'test.sh: FAIL: %s failed; %s packages ok, failing packages: %s(%ss)\n' "${failed[*]}" "$pkgs_ok" "${bad:-none}" "$secs"
exit 1
