// Package stats owns the measurement state of the load generator: a
// log-linear latency histogram that many goroutines record into without
// locks, and a per-publisher sequence tracker that turns the sequence numbers
// found in received payloads into lost, duplicated and reordered counts.
//
// It must not do I/O, read clocks or allocate on the record path: callers
// pass values in and read results out. It knows nothing about MQTT.
package stats
