package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// WebSocket client side of RFC 6455, only what MQTT over WebSocket needs:
// the opening handshake with subprotocol "mqtt", masked binary frames out,
// unmasked frames in (binary and continuation carry the MQTT byte stream,
// ping is answered with pong, close ends the stream).

var errWebSocket = errors.New("websocket")

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// WebSocket opcodes [RFC 6455 5.2].
const (
	wsContinuation = 0x0
	wsText         = 0x1
	wsBinary       = 0x2
	wsClose        = 0x8
	wsPing         = 0x9
	wsPong         = 0xA
)

// wsConn turns a WebSocket connection back into a byte stream. Read is
// called by one goroutine; Write by one at a time (the client's wmu).
type wsConn struct {
	nc     net.Conn
	br     *bufio.Reader
	remain int64 // payload bytes left in the current data frame
	wbuf   []byte
	mask   uint32 // xorshift state for masking keys
	ctrl   []byte // control frame payload scratch
}

func wsHandshake(nc net.Conn, host, path string) (*wsConn, error) {
	var key [16]byte
	_, _ = rand.Read(key[:])
	k := base64.StdEncoding.EncodeToString(key[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + k +
		"\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		return nil, fmt.Errorf("%w: sending handshake: %w", errWebSocket, err)
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		return nil, fmt.Errorf("%w: reading handshake response: %w", errWebSocket, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("%w: handshake to %s%s answered %q, want 101", errWebSocket, host, path, resp.Status)
	}
	h := sha1.Sum([]byte(k + wsGUID))
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), base64.StdEncoding.EncodeToString(h[:]); got != want {
		return nil, fmt.Errorf("%w: Sec-WebSocket-Accept %q, want %q", errWebSocket, got, want)
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); !strings.EqualFold(p, "mqtt") {
		return nil, fmt.Errorf("%w: server chose subprotocol %q, want mqtt", errWebSocket, p)
	}
	seed := binary.LittleEndian.Uint32(key[:4]) | 1
	return &wsConn{nc: nc, br: br, mask: seed}, nil
}

func (w *wsConn) nextMask() uint32 {
	x := w.mask
	x ^= x << 13
	x ^= x >> 17
	x ^= x << 5
	w.mask = x
	return x
}

// appendFrame appends one final, masked frame carrying p.
func appendFrame(dst []byte, op byte, p []byte, mask uint32) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(p); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	var key [4]byte
	binary.BigEndian.PutUint32(key[:], mask)
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = append(dst, p...)
	m := dst[start:]
	for i := range m {
		m[i] ^= key[i&3]
	}
	return dst
}

// Write sends p as one binary frame.
func (w *wsConn) Write(p []byte) (int, error) {
	w.wbuf = appendFrame(w.wbuf[:0], wsBinary, p, w.nextMask())
	if _, err := w.nc.Write(w.wbuf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Read returns bytes of the MQTT stream carried in data frames.
func (w *wsConn) Read(p []byte) (int, error) {
	for w.remain == 0 {
		if err := w.readHeader(); err != nil {
			return 0, err
		}
	}
	if int64(len(p)) > w.remain {
		p = p[:w.remain]
	}
	n, err := w.br.Read(p)
	w.remain -= int64(n)
	return n, err
}

func (w *wsConn) readHeader() error {
	var h [2]byte
	if _, err := io.ReadFull(w.br, h[:]); err != nil {
		return err
	}
	op := h[0] & 0x0F
	masked := h[1]&0x80 != 0
	n := int64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(w.br, b[:]); err != nil {
			return err
		}
		n = int64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(w.br, b[:]); err != nil {
			return err
		}
		n = int64(binary.BigEndian.Uint64(b[:]))
		if n < 0 {
			return fmt.Errorf("%w: frame length overflows", errWebSocket)
		}
	}
	if masked { // RFC 6455 5.1: a server must not mask
		return fmt.Errorf("%w: server sent a masked frame", errWebSocket)
	}
	switch op {
	case wsBinary, wsContinuation:
		w.remain = n
		return nil
	case wsText:
		return fmt.Errorf("%w: server sent a text frame; MQTT needs binary", errWebSocket)
	case wsPing, wsPong, wsClose:
		if n > 125 {
			return fmt.Errorf("%w: control frame of %d bytes", errWebSocket, n)
		}
		if cap(w.ctrl) < 125 {
			w.ctrl = make([]byte, 125)
		}
		b := w.ctrl[:n]
		if _, err := io.ReadFull(w.br, b); err != nil {
			return err
		}
		switch op {
		case wsClose:
			return io.EOF
		case wsPing:
			// Answered on the read goroutine with its own buffer and key
			// (the writer owns wbuf and the mask state); one Write call
			// per frame keeps it from interleaving with data frames.
			f := appendFrame(nil, wsPong, b, uint32(n)*0x9E3779B1|1)
			if _, err := w.nc.Write(f); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("%w: unknown opcode %d", errWebSocket, op)
	}
}
