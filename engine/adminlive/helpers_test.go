package adminlive

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tsubame-mq/tsubame/engine"
	"github.com/tsubame-mq/tsubame/engine/admin"
	"github.com/tsubame-mq/tsubame/engine/config"
)

const (
	waitShort = 5 * time.Second
	waitLong  = 15 * time.Second
)

// live is a running broker with its admin server.
type live struct {
	b     *engine.Broker
	tcp   string // MQTT over TCP, listener "tcp"
	ws    string // MQTT over WebSocket host:port, listener "ws", path /mqtt
	admin string // http://host:port
}

// startBroker starts a broker with listeners "tcp" and "ws" and the admin
// server, all on 127.0.0.1 port 0, after mod (may be nil) adjusted the
// config. $SYS is off unless mod sets SysInterval. No password file, so the
// admin API is open to loopback requests (API.md, Authentication).
func startBroker(t testing.TB, mod func(*config.Config)) *live {
	t.Helper()
	cfg := config.Default()
	cfg.Listeners = []config.Listener{
		{Name: "tcp", Type: config.TypeTCP, Address: "127.0.0.1:0"},
		{Name: "ws", Type: config.TypeWS, Address: "127.0.0.1:0"},
	}
	cfg.SysInterval = 0
	if mod != nil {
		mod(cfg)
	}
	var logOut io.Writer = io.Discard
	if os.Getenv("TSUBAME_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var b *engine.Broker
	for attempt := 1; ; attempt++ {
		c := *cfg
		c.Listeners = append([]config.Listener(nil), cfg.Listeners...)
		// config.Validate refuses admin.address port 0, so take a free
		// port here; the retry below covers losing it to another process.
		c.Admin.Address = freeAddr(t)
		var err error
		if b, err = engine.New(&c, log); err != nil {
			t.Fatalf("engine.New: %v", err)
		}
		if err = b.Start(); err == nil {
			break
		}
		// Port 0 is resolved by binding, closing and re-binding; another
		// test process can take the port in between. Not what we test.
		if attempt == 3 || !(errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")) {
			t.Fatalf("Start (attempt %d): %v", attempt, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	l := &live{b: b, tcp: b.Addr("tcp"), ws: b.Addr("ws"), admin: "http://" + b.AdminAddr()}
	if l.tcp == "" || l.ws == "" || b.AdminAddr() == "" {
		t.Fatalf("missing address: tcp %q ws %q admin %q", l.tcp, l.ws, b.AdminAddr())
	}
	return l
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// do sends one API request and returns status and body.
func (l *live) do(t testing.TB, method, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, l.admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp.StatusCode, body
}

// get decodes a 200 JSON answer of GET path into out.
func (l *live) get(t testing.TB, path string, out any) {
	t.Helper()
	status, body := l.do(t, http.MethodGet, path)
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

func (l *live) overview(t testing.TB) admin.Overview {
	t.Helper()
	var o admin.Overview
	l.get(t, "/api/v1/overview", &o)
	return o
}

func (l *live) clients(t testing.TB, query string) admin.Page[admin.Client] {
	t.Helper()
	var p admin.Page[admin.Client]
	l.get(t, "/api/v1/clients"+query, &p)
	return p
}

func (l *live) listeners(t testing.TB) map[string]admin.Listener {
	t.Helper()
	var res struct {
		Items []admin.Listener `json:"items"`
	}
	l.get(t, "/api/v1/listeners", &res)
	m := make(map[string]admin.Listener, len(res.Items))
	for _, x := range res.Items {
		m[x.Name] = x
	}
	return m
}

// scrape fetches /metrics and parses it with the Prometheus text parser.
func (l *live) scrape(t testing.TB) map[string]*dto.MetricFamily {
	t.Helper()
	status, body := l.do(t, http.MethodGet, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("/metrics does not parse as Prometheus text: %v", err)
	}
	return fams
}

// metric returns the value of the sample of family name whose labels
// include every name=value pair in labels; for a histogram, its count. It
// fails the test if there is no such sample.
func metric(t testing.TB, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("metric %s missing", name)
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	t.Fatalf("metric %s%v missing", name, labels)
	return 0
}

// eventually polls cond until it holds or d passes, then fails with what().
func eventually(t testing.TB, d time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// counter counts received messages by topic.
type counter struct {
	mu  sync.Mutex
	got map[string]int
	// payloads holds the last payload per topic.
	payloads map[string]string
}

func newCounter() *counter {
	return &counter{got: map[string]int{}, payloads: map[string]string{}}
}

func (c *counter) add(topic string, payload []byte) {
	c.mu.Lock()
	c.got[topic]++
	c.payloads[topic] = string(payload)
	c.mu.Unlock()
}

func (c *counter) count(topic string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got[topic]
}

func (c *counter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.got {
		n += v
	}
	return n
}

func (c *counter) payload(topic string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.payloads[topic]
	return p, ok
}

// v3 is one paho.mqtt.golang client (MQTT 3.1 or 3.1.1).
type v3 struct {
	c    mqtt.Client
	got  *counter
	lost chan error // connection lost (not by our Disconnect)
}

// v3Options returns options for a 3.1 (level 3) or 3.1.1 (level 4) client
// on broker URL url ("tcp://host:port" or "ws://host:port/mqtt").
func v3Options(url, id string, level uint, clean bool) *mqtt.ClientOptions {
	return mqtt.NewClientOptions().
		AddBroker(url).
		SetClientID(id).
		SetProtocolVersion(level).
		SetCleanSession(clean).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(waitShort).
		SetWriteTimeout(waitShort).
		SetKeepAlive(30 * time.Second)
}

// connect3 connects a 3.x client; it is disconnected when the test ends.
func connect3(t testing.TB, o *mqtt.ClientOptions) *v3 {
	t.Helper()
	v := &v3{got: newCounter(), lost: make(chan error, 1)}
	o.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		select {
		case v.lost <- err:
		default:
		}
	})
	o.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { v.got.add(m.Topic(), m.Payload()) })
	v.c = mqtt.NewClient(o)
	tok := v.c.Connect()
	if !tok.WaitTimeout(waitShort) || tok.Error() != nil {
		t.Fatalf("CONNECT %s: %v (timed out: %v)", o.ClientID, tok.Error(), tok.Error() == nil)
	}
	t.Cleanup(func() {
		if v.c.IsConnected() {
			v.c.Disconnect(50)
		}
	})
	return v
}

func wait3(t testing.TB, what string, tok mqtt.Token) {
	t.Helper()
	if !tok.WaitTimeout(waitShort) {
		t.Fatalf("%s: timed out", what)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (v *v3) sub(t testing.TB, filter string, qos byte) {
	t.Helper()
	wait3(t, "SUBSCRIBE "+filter, v.c.Subscribe(filter, qos, nil))
}

func (v *v3) pub(t testing.TB, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	wait3(t, "PUBLISH "+topic, v.c.Publish(topic, qos, retain, payload))
}

// v5 is one paho.golang MQTT 5 client.
type v5 struct {
	c      *paho.Client
	got    *counter
	server chan *paho.Disconnect // DISCONNECT packets from the server
	errs   chan error
}

// connect5 connects an MQTT 5 client over TCP to addr.
func connect5(t testing.TB, addr, id, user string, clean bool, expiry uint32) *v5 {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitShort)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	v := &v5{got: newCounter(), server: make(chan *paho.Disconnect, 1), errs: make(chan error, 4)}
	v.c = paho.NewClient(paho.ClientConfig{
		ClientID: id,
		Conn:     conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			v.got.add(pr.Packet.Topic, pr.Packet.Payload)
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) { v.server <- d },
		OnClientError: func(err error) {
			select {
			case v.errs <- err:
			default:
			}
		},
		PacketTimeout: waitShort,
	})
	cp := &paho.Connect{ClientID: id, CleanStart: clean, KeepAlive: 30}
	if user != "" {
		cp.Username, cp.UsernameFlag = user, true
	}
	if expiry > 0 {
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &expiry}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitShort)
	defer cancel()
	ca, err := v.c.Connect(ctx, cp)
	if err != nil {
		_ = conn.Close()
		t.Fatalf("CONNECT %s: %v", id, err)
	}
	if ca.ReasonCode != 0 {
		t.Fatalf("CONNECT %s: reason 0x%02x", id, ca.ReasonCode)
	}
	t.Cleanup(func() {
		_ = v.c.Disconnect(&paho.Disconnect{})
		_ = conn.Close()
	})
	return v
}

func (v *v5) sub(t testing.TB, filter string, qos byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitShort)
	defer cancel()
	sa, err := v.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if err != nil {
		t.Fatalf("SUBSCRIBE %s: %v", filter, err)
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] != qos {
		t.Fatalf("SUBSCRIBE %s: reasons %v", filter, sa.Reasons)
	}
}

func (v *v5) pub(t testing.TB, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitShort)
	defer cancel()
	if _, err := v.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Retain: retain, Payload: []byte(payload)}); err != nil {
		t.Fatalf("PUBLISH %s: %v", topic, err)
	}
}

func ids(cs []admin.Client) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func byID(cs []admin.Client) map[string]admin.Client {
	m := make(map[string]admin.Client, len(cs))
	for _, c := range cs {
		m[c.ID] = c
	}
	return m
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
