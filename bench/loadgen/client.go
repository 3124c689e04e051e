package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
)

// maxPacket bounds what a client accepts from the broker (the MQTT maximum).
const maxPacket = 268435455

// setupTimeout bounds dial, handshake, CONNECT and SUBSCRIBE round trips.
const setupTimeout = 15 * time.Second

// client is one MQTT connection. A single goroutine reads (next) and owns
// rbuf, pkt and out; any goroutine may write (send), serialised by wmu, so
// the publisher, the reader's acks and the pinger never interleave bytes.
type client struct {
	nc      net.Conn
	rw      io.ReadWriter // nc, or a *wsConn over it
	version byte

	wmu sync.Mutex

	rbuf []byte
	r, w int
	pkt  codec.Packet
	out  []byte // acks queued by the reader, flushed before it blocks
	// readAt is when the last read returned (unix ns): the receive time of
	// every packet decoded from it, one clock read per read, not per packet.
	readAt int64

	// From a v5 CONNACK: how many QoS 1/2 publishes the broker accepts
	// unacknowledged, and the highest QoS it supports.
	receiveMax uint16
	maxQoS     byte
	keepAlive  int    // seconds the broker holds us to: ours, or its Server Keep Alive
	maxPacket  uint32 // v5 CONNACK Maximum Packet Size; 0 = no limit announced
}

// dialTCP opens the socket; tests replace it to simulate exhausted ports.
var dialTCP = func(d *net.Dialer, addr string) (net.Conn, error) { return d.Dial("tcp", addr) }

// srcIP is the last octet of the 127.0.0.x source address new connections
// bind to; 0 means let the kernel choose. It moves on when the ephemeral
// ports of one source address run out.
var srcIP atomic.Uint32

// dialBroker opens the transport, tcp or ws, with a read buffer of rbufSize.
func dialBroker(cfg *Config, rbufSize int) (*client, error) {
	var nc net.Conn
	for {
		ip := srcIP.Load()
		d := net.Dialer{Timeout: setupTimeout}
		if ip != 0 {
			d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(ip))}
		}
		var err error
		nc, err = dialTCP(&d, cfg.Addr)
		if err == nil {
			break
		}
		if errors.Is(err, syscall.EADDRNOTAVAIL) && ip < 254 {
			next := ip + 1
			if ip == 0 {
				next = 2
			}
			srcIP.CompareAndSwap(ip, next)
			continue
		}
		return nil, fmt.Errorf("dial %s: %w", cfg.Addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c := &client{nc: nc, rw: nc, version: cfg.Version, rbuf: make([]byte, rbufSize)}
	if cfg.Transport == "ws" {
		_ = nc.SetDeadline(time.Now().Add(setupTimeout))
		ws, err := wsHandshake(nc, cfg.Addr, cfg.WSPath)
		if err != nil {
			nc.Close()
			return nil, err
		}
		_ = nc.SetDeadline(time.Time{})
		c.rw = ws
	}
	return c, nil
}

// send writes b in one call; safe from any goroutine.
func (c *client) send(b []byte) error {
	c.wmu.Lock()
	_, err := c.rw.Write(b)
	c.wmu.Unlock()
	return err
}

// next returns the next packet from the broker. The packet and its slices
// are valid until the following call. Queued acks (c.out) are written
// before next blocks in a read, so one read's worth of acks goes out in one
// write.
func (c *client) next() (*codec.Packet, error) {
	for {
		if c.r < c.w {
			n, err := codec.DecodeFromServer(c.rbuf[c.r:c.w], c.version, maxPacket, &c.pkt)
			if err != nil {
				return nil, fmt.Errorf("%w: decoding from broker: %w", errProtocol, err)
			}
			if n > 0 {
				c.r += n
				return &c.pkt, nil
			}
		}
		if len(c.out) > 0 {
			if err := c.send(c.out); err != nil {
				return nil, err
			}
			c.out = c.out[:0]
		}
		if c.r == c.w {
			c.r, c.w = 0, 0
		} else if c.r > 0 && c.w == len(c.rbuf) {
			c.w = copy(c.rbuf, c.rbuf[c.r:c.w])
			c.r = 0
		}
		if c.w == len(c.rbuf) { // one packet larger than the buffer
			nb := make([]byte, 2*len(c.rbuf))
			c.w = copy(nb, c.rbuf[c.r:c.w])
			c.r = 0
			c.rbuf = nb
		}
		n, err := c.rw.Read(c.rbuf[c.w:])
		c.readAt = time.Now().UnixNano()
		c.w += n
		if err != nil && n == 0 {
			return nil, err
		}
	}
}

// connect sends CONNECT and waits for a successful CONNACK.
func (c *client) connect(cfg *Config, clientID string) error {
	p := codec.Packet{
		Type:       codec.CONNECT,
		Version:    cfg.Version,
		CleanStart: cfg.Clean,
		KeepAlive:  uint16(cfg.KeepAlive),
		ClientID:   []byte(clientID),
	}
	if cfg.Version == codec.V31 {
		p.ProtocolName = []byte("MQIsdp")
	} else {
		p.ProtocolName = []byte("MQTT")
	}
	if cfg.Username != "" {
		p.UsernameFlag, p.Username = true, []byte(cfg.Username)
	}
	if cfg.Password != "" {
		p.PasswordFlag, p.Password = true, []byte(cfg.Password)
	}
	_ = c.nc.SetDeadline(time.Now().Add(setupTimeout))
	defer c.nc.SetDeadline(time.Time{})
	if err := c.send(codec.Encode(nil, &p)); err != nil {
		return fmt.Errorf("sending CONNECT: %w", err)
	}
	ack, err := c.next()
	if err != nil {
		return fmt.Errorf("waiting for CONNACK: %w", err)
	}
	if ack.Type != codec.CONNACK {
		return fmt.Errorf("%w: expected CONNACK, got packet type %d", errProtocol, ack.Type)
	}
	if ack.ReasonCode != 0 {
		return fmt.Errorf("CONNACK refused the connection with code 0x%02x", ack.ReasonCode)
	}
	c.receiveMax, c.maxQoS, c.keepAlive = 65535, 2, cfg.KeepAlive
	if ack.Props.Has(codec.PropServerKeepAlive) {
		c.keepAlive = int(ack.Props.ServerKeepAlive) // the broker's value wins [MQTT-3.2.2-21]
	}
	if ack.Props.Has(codec.PropReceiveMaximum) {
		c.receiveMax = ack.Props.ReceiveMaximum
	}
	if ack.Props.Has(codec.PropMaximumPacketSize) {
		c.maxPacket = ack.Props.MaximumPacketSize
	}
	if ack.Props.Has(codec.PropMaximumQoS) {
		c.maxQoS = ack.Props.MaximumQoS
	}
	return nil
}

// subscribe subscribes to filter and returns the granted QoS.
func (c *client) subscribe(filter string, qos byte) (byte, error) {
	p := codec.Packet{
		Type:          codec.SUBSCRIBE,
		Version:       c.version,
		Flags:         0x02,
		PacketID:      1,
		Subscriptions: []codec.Subscription{{Filter: []byte(filter), QoS: qos}},
	}
	_ = c.nc.SetDeadline(time.Now().Add(setupTimeout))
	defer c.nc.SetDeadline(time.Time{})
	if err := c.send(codec.Encode(nil, &p)); err != nil {
		return 0, fmt.Errorf("sending SUBSCRIBE: %w", err)
	}
	for {
		ack, err := c.next()
		if err != nil {
			return 0, fmt.Errorf("waiting for SUBACK: %w", err)
		}
		if ack.Type == codec.PINGRESP {
			continue
		}
		if ack.Type != codec.SUBACK || ack.PacketID != 1 || len(ack.ReasonCodes) != 1 {
			return 0, fmt.Errorf("%w: expected SUBACK for packet id 1 with one code, got type %d id %d codes %d", errProtocol, ack.Type, ack.PacketID, len(ack.ReasonCodes))
		}
		if rc := ack.ReasonCodes[0]; rc >= 0x80 {
			return 0, fmt.Errorf("SUBACK refused %q with code 0x%02x", filter, rc)
		} else {
			return rc, nil
		}
	}
}

var (
	pingreq    = []byte{0xC0, 0x00}
	disconnect = []byte{0xE0, 0x00}
)

// close sends DISCONNECT (best effort) and closes the socket.
func (c *client) close() {
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_ = c.send(disconnect)
	_ = c.nc.Close()
}
