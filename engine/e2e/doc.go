// Package e2e holds Tsubame's end-to-end tests: the "tutorial" scenario of a
// publisher on TCP and browsers on WebSocket, secured with a password file,
// an ACL file and TLS. Tests start a real broker in-process (engine.New with
// listeners on 127.0.0.1:0) and talk to it only through its sockets: raw MQTT
// over TCP, hand-framed WebSocket, crypto/tls, and headless Chromium driven
// by the Node scripts in browser/ (playwright-core with the system
// /usr/bin/chromium; never a downloaded browser).
//
// What it owns: the tests, the browser runner (browser/run.mjs, pages, npm
// lock file) and the WebSocket-versus-TCP throughput benchmark. What it must
// not do: hold broker code (fixes belong in engine/), reach any address
// but loopback, or leave a process running after a test. Browser tests skip
// with a reason when Chromium or browser/node_modules is missing; the test
// command installs both through tools/e2e-deps.sh.
//
// The package has no exported API; this file exists for its documentation.
package e2e
