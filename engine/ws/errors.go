package ws

import "errors"

// CloseError is a frame-level protocol failure. Code is the RFC 6455 §7.4
// status code sent in the close frame that ReadFrames appends to ctrl.
type CloseError struct {
	Code   uint16
	Reason string
}

func (e *CloseError) Error() string { return "ws: " + e.Reason }

// HandshakeError is a rejected upgrade request. Status is the HTTP status of
// the error response that Handshake returns.
type HandshakeError struct {
	Status int
	Reason string
}

func (e *HandshakeError) Error() string { return "ws handshake: " + e.Reason }

// RFC 6455 §7.4.1 status codes used by this package.
const (
	CloseNormal          uint16 = 1000
	CloseProtocolError   uint16 = 1002
	CloseUnsupportedData uint16 = 1003
	CloseInvalidPayload  uint16 = 1007
	CloseTooBig          uint16 = 1009
)

// Frame errors returned by ReadFrames. Each carries its close code.
var (
	ErrUnmasked             = &CloseError{CloseProtocolError, "unmasked client frame"}            // [RFC6455-5.1]
	ErrTextFrame            = &CloseError{CloseUnsupportedData, "text frame not allowed"}         // [MQTT-6.0.0-1]
	ErrReservedBits         = &CloseError{CloseProtocolError, "reserved bits set"}                // [RFC6455-5.2]
	ErrReservedOpcode       = &CloseError{CloseProtocolError, "reserved opcode"}                  // [RFC6455-5.2]
	ErrControlTooLong       = &CloseError{CloseProtocolError, "control frame payload over 125"}   // [RFC6455-5.5]
	ErrControlFragmented    = &CloseError{CloseProtocolError, "fragmented control frame"}         // [RFC6455-5.5]
	ErrContinuation         = &CloseError{CloseProtocolError, "continuation without start"}       // [RFC6455-5.4]
	ErrExpectedContinue     = &CloseError{CloseProtocolError, "new message inside fragmented"}    // [RFC6455-5.4]
	ErrNonMinimalLength     = &CloseError{CloseProtocolError, "non-minimal or 64-bit MSB length"} // [RFC6455-5.2]
	ErrFrameTooLarge        = &CloseError{CloseTooBig, "frame too large"}                         // [RFC6455-7.4.1]
	ErrMessageTooLarge      = &CloseError{CloseTooBig, "message too large"}                       // [RFC6455-7.4.1]
	ErrBadClosePayload      = &CloseError{CloseProtocolError, "bad close frame payload"}          // [RFC6455-5.5.1]
	ErrBadCloseCode         = &CloseError{CloseProtocolError, "bad close status code"}            // [RFC6455-7.4.2]
	ErrBadCloseReason       = &CloseError{CloseInvalidPayload, "close reason not UTF-8"}          // [RFC6455-5.5.1]
	ErrBadDeflate           = &CloseError{CloseInvalidPayload, "bad deflate data"}                // [RFC7692-6.2]
	ErrUnexpectedCompressed = &CloseError{CloseProtocolError, "RSV1 without permessage-deflate"}  // [RFC7692-6]
)

// ErrClosed is returned by ReadFrames after a close frame was received or a
// protocol error was reported: the connection must not be read any further.
var ErrClosed = errors.New("ws: connection closed")

// Handshake errors returned by Handshake. Each carries its HTTP status.
var (
	ErrHandshakeTooLarge = &HandshakeError{431, "upgrade request too large"}
	ErrMalformedRequest  = &HandshakeError{400, "malformed HTTP request"}
	ErrNotGet            = &HandshakeError{400, "method is not GET"}      // [RFC6455-4.1]
	ErrHTTPVersion       = &HandshakeError{400, "HTTP version below 1.1"} // [RFC6455-4.1]
	ErrWrongPath         = &HandshakeError{404, "path not served"}
	ErrNoHost            = &HandshakeError{400, "missing Host header"}           // [RFC6455-4.1]
	ErrNotUpgrade        = &HandshakeError{400, "not a websocket upgrade"}       // [RFC6455-4.2.1]
	ErrBadKey            = &HandshakeError{400, "bad Sec-WebSocket-Key"}         // [RFC6455-4.2.1]
	ErrNoVersion         = &HandshakeError{400, "missing Sec-WebSocket-Version"} // [RFC6455-4.2.1]
	ErrBadVersion        = &HandshakeError{426, "unsupported websocket version"} // [RFC6455-4.4]
	ErrOriginDenied      = &HandshakeError{403, "origin not allowed"}            // [RFC6455-10.2]
	ErrBadSubprotocol    = &HandshakeError{400, "no mqtt sub-protocol offered"}  // [MQTT-6.0.0-3]
)
