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
	serverNoCtx bool  // server_no_context_takeover: always answered, we keep no outbound context
	clientNoCtx bool  // client_no_context_takeover: client resets per message, so we keep no window
	serverBits  uint8 // server_max_window_bits requested by the client (0: not requested, window 15)
	clientBits  uint8 // client_max_window_bits we answered (0: not offered, client uses 15)
}

// ourClientBits is the client_max_window_bits we answer when the client
// lets us choose: inbound context takeover costs 2^bits of history per
// connection, so we ask for 8 KiB instead of 32 KiB.
const ourClientBits = 13

// minDeflateSize: shorter payloads (PUBACK, PINGRESP, small PUBLISH) are
// sent as uncompressed messages, which RFC 7692 allows per message
// [RFC7692-6.1]; deflate would only add block overhead and CPU to them.
const minDeflateSize = 64

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
			// The client can honour a limit: we ask for at most 2^13 so the
			// inflate history we keep per connection is 8 KiB, not 32 KiB.
			bits := uint8(15)
			if hasVal {
				var ok bool
				if bits, ok = windowBits(val); !ok {
					return deflateParams{}
				}
			}
			if seenCMW {
				return deflateParams{}
			}
			seenCMW, p.clientBits = true, min(bits, ourClientBits) // [RFC7692-7.1.2.2]
		default:
			return deflateParams{}
		}
	}
	// We never keep outbound compression context, and say so: the server may
	// add server_no_context_takeover on its own [RFC7692-7.1.1.1]. A
	// klauspost level-1 compressor is ~800 KB, so pinning one per connection
	// would cost ~800 MB per 1000 clients; feeding the stateless encoder an
	// 8 KiB dictionary instead measured ~10x slower per small message.
	p.serverNoCtx = true
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
		dst = append(dst, "; server_max_window_bits="...) // [RFC7692-7.1.2.1] same value as offered
		dst = strconv.AppendUint(dst, uint64(p.serverBits), 10)
	}
	if p.clientBits != 0 {
		dst = append(dst, "; client_max_window_bits="...)
		dst = strconv.AppendUint(dst, uint64(p.clientBits), 10)
	}
	return dst
}

// deflateState is allocated on the first compressed message in either
// direction and dropped by Release.
//
// Inflate: the compressed payload of a message is gathered in in (unmasked),
// then inflated into the caller's mqtt buffer by a pooled decompressor.
// Context takeover is kept as the last 2^clientBits bytes of inflated output
// (recv), handed to the decompressor as its dictionary for the next message.
// This costs a copy but lets decompressors (~40 KB each) be shared through a
// pool instead of pinned to every connection.
//
// Deflate: no context is kept (server_no_context_takeover is always
// answered). Messages are compressed by the stateless encoder, which holds
// no state between calls; with server_max_window_bits below 15 a windowed
// compressor is borrowed from a pool for the one message.
type deflateState struct {
	in   []byte
	recv []byte
	src  bytes.Reader
	out  sliceWriter
}

type sliceWriter struct{ b []byte }

func (s *sliceWriter) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// inflateTail is the stripped sync-flush marker (RFC 7692 §7.2.2) followed
// by an empty final stored block, so the decompressor ends with io.EOF.
var inflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

var inflaters = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}

// windowWriters holds windowed compressors by window bits (index 8..14).
var windowWriters [15]sync.Pool

// inflate decompresses the gathered message c.z.in and appends it to mqtt.
func (c *Conn) inflate(mqtt []byte) ([]byte, error) {
	z := c.z
	z.in = append(z.in, inflateTail...)
	z.src.Reset(z.in)
	fr := inflaters.Get().(io.ReadCloser)
	defer inflaters.Put(fr)
	var dict []byte
	if !c.pmd.clientNoCtx {
		dict = z.recv
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
		bits := c.pmd.clientBits
		if bits == 0 {
			bits = 15
		}
		z.recv = appendWindow(z.recv, mqtt[start:], 1<<bits)
	}
	return mqtt, nil
}

// appendWindow keeps the last size bytes of window+out.
func appendWindow(window, out []byte, size int) []byte {
	if len(out) >= size {
		return append(window[:0], out[len(out)-size:]...)
	}
	if drop := len(window) + len(out) - size; drop > 0 {
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
	if len(payload) < minDeflateSize {
		dst = appendHeader(dst, finBit|opBinary, len(payload)) // RSV1 clear: uncompressed [RFC7692-6.1]
		return append(dst, payload...)
	}
	z.out.b = z.out.b[:0]
	if bits := c.pmd.serverBits; bits != 0 && bits < 15 {
		// Windowed compressor honours server_max_window_bits [RFC7692-7.1.2.1].
		fw, _ := windowWriters[bits].Get().(*flate.Writer)
		if fw == nil {
			fw, _ = flate.NewWriterWindow(&z.out, 1<<bits)
		} else {
			fw.Reset(&z.out)
		}
		_, _ = fw.Write(payload) // sliceWriter never fails
		_ = fw.Flush()
		fw.Reset(nil)
		windowWriters[bits].Put(fw)
	} else {
		// No dictionary: server_no_context_takeover [RFC7692-7.1.1.1].
		_ = flate.StatelessDeflate(&z.out, payload, false, nil) // ends in a sync marker
	}
	out := z.out.b
	// Strip the 00 00 ff ff sync-flush tail [RFC7692-7.2.1].
	if n := len(out); n >= 4 && out[n-4] == 0 && out[n-3] == 0 && out[n-2] == 0xff && out[n-1] == 0xff {
		out = out[:n-4]
	}
	dst = appendHeader(dst, finBit|rsv1Bit|opBinary, len(out))
	dst = append(dst, out...)
	if cap(z.out.b) > 64<<10 {
		z.out.b = nil
	}
	return dst
}
