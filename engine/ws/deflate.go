package ws

import (
	"bytes"
	"io"
	"strconv"
	"sync"

	"github.com/klauspost/compress/flate"
)

// deflateParams is the accepted permessage-deflate offer (RFC 7692 §7.1).
type deflateParams struct {
	ok          bool
	serverNoCtx bool  // server_no_context_takeover: reset our compressor per message
	clientNoCtx bool  // client_no_context_takeover: client resets per message, so we keep no window
	serverBits  uint8 // server_max_window_bits requested by the client (0: not requested, window 15)
}

// parseDeflateOffer parses one extension offer ("permessage-deflate; a; b=1").
// An offer with unknown, duplicated or out-of-range parameters is declined
// (ok=false) so a later offer may be tried [RFC7692-5.1].
func parseDeflateOffer(ext []byte) deflateParams {
	var p deflateParams
	name, rest := cutByte(ext, ';')
	if !asciiEqualFold(trimOWS(name), "permessage-deflate") {
		return p
	}
	var seenSNC, seenCNC, seenSMW, seenCMW bool
	for len(rest) > 0 {
		var param []byte
		param, rest = cutByte(rest, ';')
		param = trimOWS(param)
		key, val := cutByte(param, '=')
		key = trimOWS(key)
		hasVal := len(val) > 0 || bytes.IndexByte(param, '=') >= 0
		val = trimOWS(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		switch {
		case asciiEqualFold(key, "server_no_context_takeover"):
			if seenSNC || hasVal {
				return deflateParams{}
			}
			seenSNC, p.serverNoCtx = true, true
		case asciiEqualFold(key, "client_no_context_takeover"):
			if seenCNC || hasVal {
				return deflateParams{}
			}
			seenCNC, p.clientNoCtx = true, true
		case asciiEqualFold(key, "server_max_window_bits"):
			bits, ok := windowBits(val)
			if seenSMW || !ok {
				return deflateParams{}
			}
			seenSMW, p.serverBits = true, bits
		case asciiEqualFold(key, "client_max_window_bits"):
			// The client tells us it can honour a limit; we do not set one
			// (our inflater handles any window up to 15 bits), so it is not
			// echoed. A value, if present, must still be valid.
			if hasVal {
				if _, ok := windowBits(val); !ok {
					return deflateParams{}
				}
			}
			if seenCMW {
				return deflateParams{}
			}
			seenCMW = true
		default:
			return deflateParams{}
		}
	}
	p.ok = true
	return p
}

func windowBits(v []byte) (uint8, bool) {
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 8 || n > 15 || len(v) > 2 || v[0] == '0' {
		return 0, false
	}
	return uint8(n), true
}

func cutByte(b []byte, c byte) (before, after []byte) {
	if i := bytes.IndexByte(b, c); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// appendResponse answers the accepted offer with what we support.
func (p deflateParams) appendResponse(dst []byte) []byte {
	dst = append(dst, "permessage-deflate"...)
	if p.serverNoCtx {
		dst = append(dst, "; server_no_context_takeover"...)
	}
	if p.clientNoCtx {
		dst = append(dst, "; client_no_context_takeover"...)
	}
	if p.serverBits != 0 {
		dst = append(dst, "; server_max_window_bits="...)
		dst = strconv.AppendUint(dst, uint64(p.serverBits), 10)
	}
	return dst
}

// deflateState is allocated on the first compressed message in either
// direction and dropped by Release.
//
// Inflate: the compressed payload of a message is gathered in in (unmasked),
// then inflated into the caller's mqtt buffer by a pooled decompressor.
// Context takeover is kept as the last 32 KiB of inflated output (window),
// handed to the decompressor as its dictionary for the next message; this
// costs a copy but lets decompressors be shared through a pool instead of
// pinning ~40 KiB of decoder state to every connection.
//
// Deflate: with context takeover the compressor is pinned to the connection
// (its window is the context); with server_no_context_takeover it is taken
// from the pool per message and returned after it.
type deflateState struct {
	in     []byte
	window []byte
	src    bytes.Reader
	w      *flate.Writer
	out    sliceWriter
}

type sliceWriter struct{ b []byte }

func (s *sliceWriter) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// inflateTail is the stripped sync-flush marker (RFC 7692 §7.2.2) followed
// by an empty final stored block, so the decompressor ends with io.EOF.
var inflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

const maxWindow = 1 << 15

var inflaters = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}

// writerPools holds compressors by window bits (index 8..15).
var writerPools [16]sync.Pool

func getWriter(bits uint8, w io.Writer) *flate.Writer {
	if bits == 0 {
		bits = 15
	}
	if fw, ok := writerPools[bits].Get().(*flate.Writer); ok {
		fw.Reset(w)
		return fw
	}
	var fw *flate.Writer
	if bits == 15 {
		fw, _ = flate.NewWriter(w, flate.BestSpeed)
	} else {
		fw, _ = flate.NewWriterWindow(w, 1<<bits) // honours server_max_window_bits [RFC7692-7.1.2.1]
	}
	return fw
}

func putWriter(bits uint8, fw *flate.Writer) {
	if bits == 0 {
		bits = 15
	}
	fw.Reset(nil)
	writerPools[bits].Put(fw)
}

// inflate decompresses the gathered message c.z.in and appends it to mqtt.
func (c *Conn) inflate(mqtt []byte) ([]byte, error) {
	z := c.z
	z.in = append(z.in, inflateTail...)
	z.src.Reset(z.in)
	fr := inflaters.Get().(io.ReadCloser)
	defer inflaters.Put(fr)
	var dict []byte
	if !c.pmd.clientNoCtx {
		dict = z.window
	}
	if err := fr.(flate.Resetter).Reset(&z.src, dict); err != nil {
		return mqtt, ErrBadDeflate
	}
	start := len(mqtt)
	for {
		if len(mqtt) == cap(mqtt) {
			mqtt = append(mqtt, 0)[:len(mqtt)]
		}
		m, err := fr.Read(mqtt[len(mqtt):cap(mqtt)])
		mqtt = mqtt[:len(mqtt)+m]
		if len(mqtt)-start > c.maxMsg {
			return mqtt[:start], ErrMessageTooLarge // [RFC7692-8.1] bound inflation
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return mqtt[:start], ErrBadDeflate // [RFC7692-6.2]
		}
	}
	if cap(z.in) > 64<<10 {
		z.in = nil // do not pin a large gather buffer to an idle connection
	} else {
		z.in = z.in[:0]
	}
	if !c.pmd.clientNoCtx {
		z.window = appendWindow(z.window, mqtt[start:])
	}
	return mqtt, nil
}

// appendWindow keeps the last maxWindow bytes of window+out.
func appendWindow(window, out []byte) []byte {
	if len(out) >= maxWindow {
		return append(window[:0], out[len(out)-maxWindow:]...)
	}
	if drop := len(window) + len(out) - maxWindow; drop > 0 {
		window = window[:copy(window, window[drop:])]
	}
	return append(window, out...)
}

// appendCompressed appends one compressed binary frame (RSV1 set).
func (c *Conn) appendCompressed(dst, payload []byte) []byte {
	if c.z == nil {
		c.z = new(deflateState)
	}
	z := c.z
	if z.w == nil {
		z.w = getWriter(c.pmd.serverBits, &z.out)
	}
	z.out.b = z.out.b[:0]
	_, _ = z.w.Write(payload) // sliceWriter never fails
	_ = z.w.Flush()
	out := z.out.b
	// Strip the 00 00 ff ff sync-flush tail [RFC7692-7.2.1].
	if n := len(out); n >= 4 && out[n-4] == 0 && out[n-3] == 0 && out[n-2] == 0xff && out[n-1] == 0xff {
		out = out[:n-4]
	}
	if len(out) == 0 {
		out = append(out, 0x00) // empty message [RFC7692-7.2.3.6]
	}
	dst = appendHeader(dst, finBit|rsv1Bit|opBinary, len(out))
	dst = append(dst, out...)
	if c.pmd.serverNoCtx {
		putWriter(c.pmd.serverBits, z.w) // [RFC7692-7.1.1.1] no context takeover
		z.w = nil
	}
	if cap(z.out.b) > 64<<10 {
		z.out.b = nil
	}
	return dst
}
