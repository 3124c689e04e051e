package ws

import (
	"encoding/binary"
	"unicode/utf8"
)

// Frame header bits [RFC6455-5.2].
const (
	finBit  = 0x80
	rsv1Bit = 0x40
	rsv2Bit = 0x20
	rsv3Bit = 0x10

	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA

	maxControlPayload = 125
)

// Conn state flags.
const (
	fInFrame     = 1 << iota // header read, payload bytes still to come
	fFrameFin                // the frame in progress has FIN set
	fInMessage               // a data message is open (fragmented)
	fMsgDeflated             // the open message has RSV1 (permessage-deflate)
	fClosed                  // close received or protocol error: stop reading
)

// Conn is the per-connection frame state. Idle it holds no buffers; the
// permessage-deflate state is allocated on first use and dropped by Release.
//
//	Handshake ──► Conn ──ReadFrames──► mqtt bytes + ctrl frames
//	                   ◄─AppendFrame── outbound MQTT bytes
type Conn struct {
	z        *deflateState // nil until a compressed message is read or written
	subproto string
	remain   uint64 // payload bytes of the current data frame not yet read
	msgLen   int    // bytes of the open message so far (compressed size if deflated)
	maxFrame int
	maxMsg   int
	mask     [4]byte
	maskPos  uint8
	flags    uint8
	pmd      deflateParams
}

func newConn(cfg *Config) *Conn {
	c := &Conn{maxFrame: cfg.MaxFrameSize, maxMsg: cfg.MaxMessageSize}
	if c.maxFrame <= 0 {
		c.maxFrame = DefaultMaxFrameSize
	}
	if c.maxMsg <= 0 {
		c.maxMsg = 4 * c.maxFrame
	}
	return c
}

// Subprotocol returns the negotiated sub-protocol: "mqtt", "mqttv3.1" or ""
// when the client offered none.
func (c *Conn) Subprotocol() string { return c.subproto }

// Compressed reports whether permessage-deflate was negotiated.
func (c *Conn) Compressed() bool { return c.pmd.ok }

// Release drops the deflate buffers (compressors are only borrowed from
// pools during a call, so nothing else is held).
// The Conn may still be used afterwards (state is re-created lazily, which
// loses the inbound inflate history), but normally it is called once at close.
func (c *Conn) Release() {
	if c.z == nil {
		return
	}
	c.z = nil
}

// ReadFrames decodes as many frames as b holds. Binary message payloads are
// unmasked (and inflated) and appended to mqtt; pong and close replies are
// appended to ctrl. n is the number of bytes of b consumed: an incomplete
// frame header or an incomplete control frame is left unconsumed and must be
// presented again; data frame payload is consumed as it arrives.
//
// closed is true when a close frame was received; ctrl then holds the close
// reply, and the engine writes it and closes. On a protocol error err is a
// *CloseError and ctrl holds a close frame with err's code. After either,
// further calls return ErrClosed.
func (c *Conn) ReadFrames(b []byte, mqtt []byte, ctrl []byte) (n int, mqttOut, ctrlOut []byte, closed bool, err error) {
	if c.flags&fClosed != 0 {
		return 0, mqtt, ctrl, true, ErrClosed
	}
	for {
		if c.flags&fInFrame != 0 {
			avail := uint64(len(b) - n)
			if avail > c.remain {
				avail = c.remain
			}
			if avail > 0 {
				chunk := b[n : n+int(avail)]
				if c.flags&fMsgDeflated != 0 {
					c.z.in = append(c.z.in, chunk...)
					c.maskPos = maskBytes(c.mask, c.maskPos, c.z.in[len(c.z.in)-len(chunk):])
				} else {
					mqtt = append(mqtt, chunk...)
					c.maskPos = maskBytes(c.mask, c.maskPos, mqtt[len(mqtt)-len(chunk):])
				}
				n += int(avail)
				c.remain -= avail
			}
			if c.remain > 0 {
				return n, mqtt, ctrl, false, nil
			}
			c.flags &^= fInFrame
			if c.flags&fFrameFin != 0 {
				c.flags &^= fInMessage
				if c.flags&fMsgDeflated != 0 {
					c.flags &^= fMsgDeflated
					if mqtt, err = c.inflate(mqtt); err != nil {
						return n, mqtt, c.fail(ctrl, err), true, err
					}
				}
			}
			continue
		}
		if n == len(b) {
			return n, mqtt, ctrl, false, nil
		}
		h := b[n:]
		if len(h) < 2 {
			return n, mqtt, ctrl, false, nil
		}
		b0, b1 := h[0], h[1]
		op := b0 & 0x0f
		switch op {
		case opContinuation, opBinary, opClose, opPing, opPong:
		case opText:
			err = ErrTextFrame // [MQTT-6.0.0-1] MQTT data in binary frames only
		default:
			err = ErrReservedOpcode // [RFC6455-5.2] opcodes 3-7 and 0xB-0xF
		}
		if err == nil {
			err = c.checkBits(b0, op)
		}
		if err == nil && b1&0x80 == 0 {
			err = ErrUnmasked // [RFC6455-5.1] client frames MUST be masked
		}
		if err != nil {
			return n, mqtt, c.fail(ctrl, err), true, err
		}
		length := uint64(b1 & 0x7f)
		hl := 2
		switch length {
		case 126:
			if len(h) < 4 {
				return n, mqtt, ctrl, false, nil
			}
			length = uint64(binary.BigEndian.Uint16(h[2:]))
			hl = 4
			if length < 126 {
				err = ErrNonMinimalLength // [RFC6455-5.2] minimal length encoding
			}
		case 127:
			if len(h) < 10 {
				return n, mqtt, ctrl, false, nil
			}
			length = binary.BigEndian.Uint64(h[2:])
			hl = 10
			if length>>63 != 0 || length <= 0xffff {
				err = ErrNonMinimalLength // [RFC6455-5.2] MSB 0, minimal encoding
			}
		}
		if err == nil {
			if op >= opClose {
				if b0&finBit == 0 {
					err = ErrControlFragmented // [RFC6455-5.5]
				} else if length > maxControlPayload {
					err = ErrControlTooLong // [RFC6455-5.5]
				}
			} else if length > uint64(c.maxFrame) {
				err = ErrFrameTooLarge // checked on the header, before any payload is read
			} else if op == opBinary && length > uint64(c.maxMsg) ||
				op == opContinuation && uint64(c.msgLen)+length > uint64(c.maxMsg) {
				err = ErrMessageTooLarge
			}
		}
		if err != nil {
			return n, mqtt, c.fail(ctrl, err), true, err
		}
		if len(h) < hl+4 {
			return n, mqtt, ctrl, false, nil
		}
		copy(c.mask[:], h[hl:hl+4])
		hl += 4

		if op >= opClose {
			if uint64(len(h)-hl) < length {
				return n, mqtt, ctrl, false, nil // control frames are handled whole
			}
			payload := h[hl : hl+int(length)]
			n += hl + int(length)
			switch op {
			case opPing:
				ctrl = appendHeader(ctrl, finBit|opPong, len(payload)) // [RFC6455-5.5.3] pong echoes ping data
				ctrl = append(ctrl, payload...)
				maskBytes(c.mask, 0, ctrl[len(ctrl)-len(payload):])
			case opPong:
				// unsolicited pong: ignored [RFC6455-5.5.3]
			case opClose:
				var cerr error
				ctrl, cerr = c.onClose(ctrl, payload)
				c.flags |= fClosed
				return n, mqtt, ctrl, true, cerr
			}
			continue
		}

		// Data frame: header accepted, payload streams in.
		n += hl
		if op == opBinary {
			c.flags |= fInMessage
			c.msgLen = 0
			if b0&rsv1Bit != 0 {
				c.flags |= fMsgDeflated
				if c.z == nil {
					c.z = new(deflateState)
				}
			}
		}
		c.msgLen += int(length)
		c.remain = length
		c.maskPos = 0
		c.flags |= fInFrame
		if b0&finBit != 0 {
			c.flags |= fFrameFin
		} else {
			c.flags &^= fFrameFin
		}
	}
}

// checkBits validates RSV bits and message sequencing for a frame header.
func (c *Conn) checkBits(b0, op byte) error {
	if b0&(rsv2Bit|rsv3Bit) != 0 {
		return ErrReservedBits // [RFC6455-5.2] no extension defines RSV2/RSV3
	}
	if b0&rsv1Bit != 0 {
		if !c.pmd.ok {
			return ErrUnexpectedCompressed // [RFC6455-5.2] RSV1 only with an extension
		}
		if op != opBinary {
			return ErrReservedBits // [RFC7692-6] RSV1 only on the first frame of a data message
		}
	}
	switch op {
	case opContinuation:
		if c.flags&fInMessage == 0 {
			return ErrContinuation // [RFC6455-5.4]
		}
	case opBinary:
		if c.flags&fInMessage != 0 {
			return ErrExpectedContinue // [RFC6455-5.4] fragments of one message are not interleaved
		}
	}
	return nil
}

// onClose validates a received close payload and appends the reply.
func (c *Conn) onClose(ctrl, payload []byte) ([]byte, error) {
	var p [maxControlPayload]byte
	m := copy(p[:], payload)
	maskBytes(c.mask, 0, p[:m])
	body := p[:m]
	switch {
	case len(body) == 0:
		return c.AppendClose(ctrl, 0, ""), nil // [RFC6455-5.5.1] no status: reply without one
	case len(body) == 1:
		return c.AppendClose(ctrl, CloseProtocolError, ErrBadClosePayload.Reason), ErrBadClosePayload
	}
	code := binary.BigEndian.Uint16(body)
	if !validCloseCode(code) {
		return c.AppendClose(ctrl, CloseProtocolError, ErrBadCloseCode.Reason), ErrBadCloseCode // [RFC6455-7.4.2]
	}
	if !utf8.Valid(body[2:]) {
		return c.AppendClose(ctrl, CloseInvalidPayload, ErrBadCloseReason.Reason), ErrBadCloseReason // [RFC6455-5.5.1]
	}
	return c.AppendClose(ctrl, code, ""), nil // [RFC6455-5.5.1] echo the status code
}

func validCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// fail marks the connection failed and appends the close frame for err.
func (c *Conn) fail(ctrl []byte, err error) []byte {
	c.flags |= fClosed
	if ce, ok := err.(*CloseError); ok {
		return c.AppendClose(ctrl, ce.Code, ce.Reason)
	}
	return c.AppendClose(ctrl, CloseProtocolError, "")
}

// AppendFrame appends one unfragmented binary frame carrying payload. Server
// frames are not masked [RFC6455-5.1]. When permessage-deflate was
// negotiated the payload is compressed. Without compression it does not
// allocate once dst has capacity.
func (c *Conn) AppendFrame(dst []byte, payload []byte) []byte {
	if c.pmd.ok {
		return c.appendCompressed(dst, payload)
	}
	dst = appendHeader(dst, finBit|opBinary, len(payload))
	return append(dst, payload...)
}

// AppendClose appends a close frame. code 0 sends no status; reason is cut
// to fit the 125-byte control payload on a UTF-8 boundary.
func (c *Conn) AppendClose(dst []byte, code uint16, reason string) []byte {
	if code == 0 {
		return append(dst, finBit|opClose, 0)
	}
	if len(reason) > maxControlPayload-2 {
		cut := maxControlPayload - 2
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	dst = append(dst, finBit|opClose, byte(2+len(reason)), byte(code>>8), byte(code))
	return append(dst, reason...)
}

// appendHeader appends an unmasked frame header.
func appendHeader(dst []byte, b0 byte, n int) []byte {
	switch {
	case n <= 125:
		return append(dst, b0, byte(n))
	case n <= 0xffff:
		return append(dst, b0, 126, byte(n>>8), byte(n))
	}
	return append(dst, b0, 127,
		byte(uint64(n)>>56), byte(uint64(n)>>48), byte(uint64(n)>>40), byte(uint64(n)>>32),
		byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// maskBytes XORs b with the mask key starting at key offset pos and returns
// the next offset. Eight bytes at a time once pos is word-aligned.
func maskBytes(key [4]byte, pos uint8, b []byte) uint8 {
	i := 0
	for ; i < len(b) && pos&3 != 0; i++ {
		b[i] ^= key[pos&3]
		pos++
	}
	if len(b)-i >= 8 {
		k32 := uint64(binary.LittleEndian.Uint32(key[:]))
		k := k32 | k32<<32
		for ; len(b)-i >= 8; i += 8 {
			v := binary.LittleEndian.Uint64(b[i:])
			binary.LittleEndian.PutUint64(b[i:], v^k)
		}
	}
	for ; i < len(b); i++ {
		b[i] ^= key[pos&3]
		pos++
	}
	return pos & 3
}
