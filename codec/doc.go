// Package codec owns the MQTT wire format: decoding, validating and encoding
// every control packet of MQTT 3.1 (level 3), 3.1.1 (level 4) and 5.0
// (level 5), including all v5 properties.
//
// Callers: the engine decodes the bytes gnet hands to OnTraffic with Decode
// and writes replies with Encode, AppendPublish and AppendAck; the router uses
// ValidTopicName and ValidTopicFilter; the load generator decodes the server
// side of the conversation with DecodeFromServer.
//
// What it must not do: keep state between calls, allocate on the decode or
// publish/ack encode paths, allocate from a length declared on the wire, or
// know about sessions, subscriptions or sockets. Decoded byte slices alias the
// input buffer; copying what must outlive the read (Properties.Clone, or the
// payload) is the caller's job.
//
// Every normative check carries its statement id from the OASIS MQTT 5.0
// specification in a trailing comment (with the 3.1.1 id where it differs);
// where a rule has no numbered statement the section is cited instead
// ("MQTT-5.0 §3.8.3.1"). Each rule has its own sentinel *Error carrying the v5
// reason code to answer with, so callers can errors.Is it.
package codec
