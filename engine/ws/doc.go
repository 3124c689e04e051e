// Package ws is the WebSocket transport codec for MQTT over WebSocket
// (RFC 6455, RFC 7692 permessage-deflate, MQTT 5.0 §6 and MQTT 3.1.1 §6).
//
// It owns: parsing the HTTP/1.1 upgrade request and writing the 101 (or
// the HTTP error) response, choosing the MQTT sub-protocol, negotiating
// permessage-deflate, decoding client frames into the MQTT byte stream,
// answering control frames (ping, close) and encoding server frames.
//
// It must not do I/O: no net.Conn, no goroutines, no timers, no logging.
// Everything is bytes in, bytes out, so the same code serves gnet event
// loops (ws://) and crypto/tls goroutines (wss://). It does not parse MQTT:
// it only concatenates binary message payloads [MQTT-6.0.0-2]; the engine
// parses MQTT packets from the accumulated bytes.
//
// Who calls it: the engine. Per connection the engine calls Handshake until
// it returns a Conn, then ReadFrames for every read and AppendFrame for every
// write, and Release when the connection is gone.
//
// Buffer lifetime: the input slice b of Handshake and ReadFrames may be a
// slice of the event loop's read buffer; it is only read during the call and
// never retained. A partial frame header, or a partial control frame (at
// most 14+125 bytes), is left unconsumed: the caller keeps those bytes and
// presents them again with more data. Data frame payload is streamed: it is
// consumed (unmasked into the mqtt buffer) as soon as it arrives, so the
// caller never has to hold a whole large frame.
//
// Concurrency: a Conn is not safe for concurrent use; it belongs to the one
// event loop (or goroutine) that owns the connection.
package ws
