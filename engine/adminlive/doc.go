// Package adminlive holds the admin console's live tests: the JSON API,
// /metrics and $SYS checked against a running in-process broker with real
// MQTT clients (paho.mqtt.golang for 3.1 and 3.1.1, paho.golang for 5.0)
// doing known traffic, and the web console driven in headless Chromium.
//
// It owns no production code: everything is in _test.go files and
// testdata/console.mjs (the Playwright script of the browser test). It must
// not reach into engine internals; it sees the broker only as an operator
// would, through MQTT, HTTP and the browser. The browser test resolves
// playwright-core from engine/e2e/browser/node_modules (installed by
// tools/e2e-deps.sh) and skips, saying so, when that or /usr/bin/chromium is
// missing.
package adminlive
