// Package interop holds interoperability tests: real third-party MQTT
// clients talk to an in-process Tsubame broker on a loopback port chosen by
// the kernel, and the tests check what those clients observe.
//
// Clients covered:
//   - github.com/eclipse/paho.mqtt.golang (MQTT 3.1 and 3.1.1)
//   - github.com/eclipse/paho.golang (MQTT 5)
//   - mosquitto_pub / mosquitto_sub from Debian mosquitto-clients (3.1, 3.1.1, 5)
//   - Python paho-mqtt 1.x or 2.x through testdata/paho_client.py (3.1.1, 5)
//
// For each client: publish -> subscribe round trips at QoS 0, 1 and 2 with
// count and order checks, retained messages, wills and persistent session
// resume. Tests that need an external program skip with a message naming the
// missing package when it is absent; tools/test.sh installs them.
//
// The package owns nothing but tests: it must not export API, and it must not
// reach into engine internals — it only uses engine.New, Start, Addr and
// Shutdown, as an operator's program would. Broker bugs found here are fixed
// in engine, never worked around here.
package interop
