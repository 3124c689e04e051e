package engine

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
)

// Helpers shared by the wireNN black-box tests: v5 connects, decoding of
// server packets as a client would, and close checks that also return what
// the server sent before closing.

// recv reads the next packet and decodes it as a client does (a PUBLISH from
// the server may carry Subscription Identifiers), failing unless it is typ.
func (w *wire) recv(typ codec.PacketType) *codec.Packet {
	w.t.Helper()
	raw, err := w.readRaw(2 * time.Second)
	if err != nil {
		w.t.Fatalf("want %v, read error: %v", typ, err)
	}
	p := new(codec.Packet)
	if n, err := codec.DecodeFromServer(raw, w.ver, 1<<28, p); err != nil || n != len(raw) {
		w.t.Fatalf("decode % x: n=%d err=%v", raw, n, err)
	}
	if p.Type != typ {
		w.t.Fatalf("got %v (% x), want %v", p.Type, raw, typ)
	}
	return p
}

// readUntilClosed returns every byte the server sends until it closes the
// connection; it fails the test if the connection is still open after d.
func (w *wire) readUntilClosed(d time.Duration) []byte {
	w.t.Helper()
	deadline := time.Now().Add(d)
	out := append([]byte(nil), w.buf...)
	w.buf = nil
	tmp := make([]byte, 64<<10)
	for {
		_ = w.conn.SetReadDeadline(deadline)
		n, err := w.conn.Read(tmp)
		out = append(out, tmp[:n]...)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				w.t.Fatalf("connection still open after %v (received % x)", d, out)
			}
			return out
		}
	}
}

// expectCloseWith checks that the server sends exactly want and then closes.
func (w *wire) expectCloseWith(want []byte) {
	w.t.Helper()
	got := w.readUntilClosed(2 * time.Second)
	if !bytes.Equal(got, want) {
		w.t.Fatalf("before close got % x, want % x", got, want)
	}
}

// disconnectV5 is the exact DISCONNECT a v5 server sends with reason code
// and no properties.
func disconnectV5(code byte) []byte { return []byte{0xe0, 0x01, code} }

// connectWith sends p (a CONNECT) on a new connection and returns the
// connection and the decoded CONNACK, whatever its code.
func connectWith(t testing.TB, addr string, p *codec.Packet) (*wire, *codec.Packet) {
	t.Helper()
	w := dial(t, addr)
	if p.Version == 0 {
		p.Version = codec.V311
	}
	w.ver = p.Version
	p.Type = codec.CONNECT
	p.ProtocolName = protoName(p.Version)
	w.sendPacket(p)
	return w, w.recv(codec.CONNACK)
}

// connect5 connects a v5 client (mod may add properties or a will) and
// requires success.
func connect5(t testing.TB, addr, id string, clean bool, mod func(p *codec.Packet)) (*wire, *codec.Packet) {
	t.Helper()
	p := &codec.Packet{Version: codec.V5, ClientID: []byte(id), CleanStart: clean, KeepAlive: 30}
	if mod != nil {
		mod(p)
	}
	w, ack := connectWith(t, addr, p)
	if ack.ReasonCode != codec.Success {
		t.Fatalf("CONNACK reason %#x", ack.ReasonCode)
	}
	return w, ack
}

// subscribeOpts sends one SUBSCRIBE (v5 subID 0 = none) and returns the SUBACK.
func subscribeOpts(t testing.TB, w *wire, id uint16, subID uint32, subs ...codec.Subscription) *codec.Packet {
	t.Helper()
	p := &codec.Packet{Type: codec.SUBSCRIBE, PacketID: id, Subscriptions: subs}
	if subID != 0 {
		p.Props.SubscriptionIDs = []uint32{subID}
		p.Props.Present |= 1 << codec.PropSubscriptionID
	}
	w.sendPacket(p)
	ack := w.recv(codec.SUBACK)
	if ack.PacketID != id || len(ack.ReasonCodes) != len(subs) {
		t.Fatalf("SUBACK %+v for %d filters, id %d", ack, len(subs), id)
	}
	return ack
}

// publish sends a PUBLISH; for QoS 1 and 2 it waits for PUBACK or completes
// the PUBREC/PUBREL/PUBCOMP flow, so the message has been routed on return.
func publish(t testing.TB, w *wire, id uint16, topic, payload string, qos byte, retain bool) {
	t.Helper()
	w.sendPacket(&codec.Packet{Type: codec.PUBLISH, QoS: qos, Retain: retain, PacketID: id, Topic: []byte(topic), Payload: []byte(payload)})
	switch qos {
	case 1:
		w.recv(codec.PUBACK)
	case 2:
		w.recv(codec.PUBREC)
		w.sendPacket(&codec.Packet{Type: codec.PUBREL, PacketID: id})
		w.recv(codec.PUBCOMP)
	}
}

// sync round-trips a PINGREQ, so everything sent before it has been handled.
func (w *wire) sync() {
	w.t.Helper()
	w.send([]byte{0xc0, 0x00})
	w.expectRaw([]byte{0xd0, 0x00})
}

func sub(filter string, qos byte) codec.Subscription {
	return codec.Subscription{Filter: []byte(filter), QoS: qos}
}
