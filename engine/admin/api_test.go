package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/metrics"
)

type testEnv struct {
	b   *fakeBroker
	m   *metrics.Metrics
	s   *Server
	srv *httptest.Server
}

// newEnv serves a fake broker anonymously on loopback (auth is tested
// separately in auth_test.go).
func newEnv(t *testing.T, nClients int, o Options) *testEnv {
	t.Helper()
	if o.Address == "" {
		o.Address = "127.0.0.1:0"
		o.AllowAnonymous = true
	}
	e := &testEnv{b: newFakeBroker(nClients), m: metrics.New(metrics.Config{Shards: 2, Version: "0.9.0"})}
	e.s = New(e.b, e.m, o)
	e.srv = httptest.NewServer(e.s.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

func (e *testEnv) do(t *testing.T, method, path string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body, resp.Header
}

func (e *testEnv) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	code, body, h := e.do(t, "GET", path)
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, code, body)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("GET %s content type %q", path, ct)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

func TestOverview(t *testing.T) {
	e := newEnv(t, 0, Options{})
	e.m.SetGauges(metrics.Gauges{
		Retained:      func() int64 { return 4 },
		Subscriptions: func() int64 { return 12 },
		Sessions:      func() int64 { return 3 },
	})
	l := e.m.Listener("tcp", "tcp", ":1883", false)
	l.Opened()
	l.Opened()
	s := e.m.Shard(0)
	s.Received(1)
	s.Received(0)
	s.DeliveredN(0, 5)
	s.Dropped(0, metrics.DropSlowConsumer)
	s.BytesIn(1000)
	s.BytesOut(3000)
	s.AddInflight(2)
	s.AddQueued(7)
	var o Overview
	e.getJSON(t, "/api/v1/overview", &o)
	if o.Version != "0.9.0" || o.Connections != 2 || o.ConnectionsMax != 2 || o.Sessions != 3 ||
		o.Subscriptions != 12 || o.Retained != 4 || o.Inflight != 2 || o.Queued != 7 ||
		o.MessagesReceived != 2 || o.MessagesSent != 5 || o.MessagesDropped != 1 ||
		o.BytesIn != 1000 || o.BytesOut != 3000 || o.Memory.HeapBytes == 0 || o.UptimeSeconds < 0 {
		t.Fatalf("overview = %+v", o)
	}
}

func TestRatesHistory(t *testing.T) {
	e := newEnv(t, 0, Options{})
	now := time.Now()
	e.m.Sample(now.Add(-2 * time.Second))
	e.m.Shard(0).Received(0)
	e.m.Sample(now.Add(-time.Second))
	e.m.Shard(0).Received(0)
	e.m.Shard(0).Received(0)
	e.m.Sample(now)
	var r struct{ Points []metrics.RatePoint }
	e.getJSON(t, "/api/v1/rates", &r)
	if len(r.Points) != 2 || r.Points[0].In != 1 || r.Points[1].In != 2 {
		t.Fatalf("points = %+v", r.Points)
	}
	for _, bad := range []string{"0", "901", "x"} {
		if code, _, _ := e.do(t, "GET", "/api/v1/rates?points="+bad); code != http.StatusBadRequest {
			t.Errorf("points=%s: %d, want 400", bad, code)
		}
	}
}

func TestListeners(t *testing.T) {
	e := newEnv(t, 0, Options{})
	e.m.Listener("tcp", "tcp", "0.0.0.0:1883", false).Opened()
	ws := e.m.Listener("wss", "ws", "0.0.0.0:8084", true)
	ws.Opened()
	ws.Opened()
	ws.Closed(metrics.CloseNormal)
	var r struct{ Items []Listener }
	e.getJSON(t, "/api/v1/listeners", &r)
	want := []Listener{
		{"tcp", "tcp", "0.0.0.0:1883", false, 1, 1},
		{"wss", "ws", "0.0.0.0:8084", true, 1, 2},
	}
	if len(r.Items) != 2 || r.Items[0] != want[0] || r.Items[1] != want[1] {
		t.Fatalf("listeners = %+v", r.Items)
	}
}

func TestClientsPagination(t *testing.T) {
	e := newEnv(t, 123, Options{})
	cases := []struct {
		query     string
		page, per int
		n         int
		first     string
	}{
		{"", 1, DefaultPerPage, 50, "client-000"},
		{"?page=2", 2, DefaultPerPage, 50, "client-050"},
		{"?page=3", 3, DefaultPerPage, 23, "client-100"},
		{"?page=4", 4, DefaultPerPage, 0, ""},
		{"?per_page=1000", 1, 1000, 123, "client-000"},
		{"?per_page=7&page=2", 2, 7, 7, "client-007"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			var p Page[Client]
			e.getJSON(t, "/api/v1/clients"+c.query, &p)
			if p.Total != 123 || p.Page != c.page || p.PerPage != c.per || len(p.Items) != c.n {
				t.Fatalf("total=%d page=%d per=%d items=%d", p.Total, p.Page, p.PerPage, len(p.Items))
			}
			if c.n > 0 && p.Items[0].ID != c.first {
				t.Fatalf("first = %s, want %s", p.Items[0].ID, c.first)
			}
			if p.Items == nil {
				t.Fatal("items must be [] not null")
			}
		})
	}
	// A full client comes through with every field.
	var p Page[Client]
	e.getJSON(t, "/api/v1/clients?q=client-013", &p)
	if len(p.Items) != 1 || p.Items[0] != e.b.clients[13] {
		t.Fatalf("client-013 = %+v, want %+v", p.Items, e.b.clients[13])
	}
}

func TestClientsFilter(t *testing.T) {
	e := newEnv(t, 123, Options{})
	cases := []struct {
		query string
		total int
	}{
		{"listener=ws", 61},
		{"listener=tcp", 62},
		{"listener=nope", 0},
		{"user=alice", 41},
		{"user=", 41}, // clients without a user name
		{"q=client-01", 10},
		{"q=CLIENT-00", 10}, // case-insensitive
		{"q=10.0.0.7:", 1},  // remote address
		{"q=bob", 41},       // user name
		{"connected=false", 24},
		{"connected=true", 99},
		{"listener=ws&user=bob", 21},
		{"listener=ws&user=bob&q=client-00", 2},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			var p Page[Client]
			e.getJSON(t, "/api/v1/clients?"+c.query+"&per_page=1000", &p)
			if p.Total != c.total || len(p.Items) != c.total {
				t.Fatalf("total=%d items=%d, want %d", p.Total, len(p.Items), c.total)
			}
		})
	}
}

func TestBadQueryParameters(t *testing.T) {
	e := newEnv(t, 3, Options{})
	cases := []struct {
		path string
		err  error
	}{
		{"/api/v1/clients?page=0", ErrBadPage},
		{"/api/v1/clients?page=x", ErrBadPage},
		{"/api/v1/clients?page=99999999999", ErrBadPage},
		{"/api/v1/clients?per_page=0", ErrBadPerPage},
		{"/api/v1/clients?per_page=1001", ErrBadPerPage},
		{"/api/v1/clients?connected=maybe", nil},
		{"/api/v1/topics?page=-1", ErrBadPage},
		{"/api/v1/topics?kind=bogus", ErrBadKind},
		{"/api/v1/retained?per_page=abc", ErrBadPerPage},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			code, body, _ := e.do(t, "GET", c.path)
			var eb errorBody
			if code != http.StatusBadRequest || json.Unmarshal(body, &eb) != nil || eb.Error == "" {
				t.Fatalf("%d %s, want 400 with an error", code, body)
			}
			if c.err != nil && eb.Error != c.err.Error() {
				t.Fatalf("error %q, want %q", eb.Error, c.err)
			}
		})
	}
}

func TestClientDetailAndKick(t *testing.T) {
	e := newEnv(t, 10, Options{})
	e.b.clients = append(e.b.clients, Client{ID: "dev/7 é", Connected: true})

	var d ClientDetail
	e.getJSON(t, "/api/v1/clients/client-001", &d)
	if d.ID != "client-001" || len(d.SubscriptionList) != 2 || d.SubscriptionList[1].Group != "g1" || !d.SubscriptionList[1].NoLocal {
		t.Fatalf("detail = %+v", d)
	}
	e.getJSON(t, "/api/v1/clients/client-002", &d)
	if d.SubscriptionList == nil {
		t.Fatal("subscription_list must be [] not null")
	}
	e.getJSON(t, "/api/v1/clients/dev%2F7%20%C3%A9", &d)
	if d.ID != "dev/7 é" {
		t.Fatalf("escaped id = %q", d.ID)
	}
	if code, body, _ := e.do(t, "GET", "/api/v1/clients/nobody"); code != http.StatusNotFound || !strings.Contains(string(body), ErrNotFound.Error()) {
		t.Fatalf("unknown client: %d %s", code, body)
	}

	cases := []struct {
		id   string
		want int
	}{
		{"client-000", http.StatusNoContent},
		{"client-000", http.StatusNotFound}, // already gone
		{"client-004", http.StatusNotFound}, // offline session: nothing to kick
		{"nobody", http.StatusNotFound},
		{"dev%2F7%20%C3%A9", http.StatusNoContent},
	}
	for _, c := range cases {
		if code, body, _ := e.do(t, "DELETE", "/api/v1/clients/"+c.id); code != c.want {
			t.Errorf("kick %s: %d %s, want %d", c.id, code, body, c.want)
		}
	}
	if len(e.b.kicked) != 2 || e.b.kicked[0] != "client-000" || e.b.kicked[1] != "dev/7 é" {
		t.Fatalf("kicked = %v", e.b.kicked)
	}
}

func TestTopics(t *testing.T) {
	e := newEnv(t, 0, Options{})
	var p Page[Topic]
	e.getJSON(t, "/api/v1/topics", &p)
	if p.Total != 3 || p.Items[1].Group != "g1" || p.Items[1].Subscribers != 2 || len(p.Items[1].Consumers) != 2 {
		t.Fatalf("topics = %+v", p)
	}
	e.getJSON(t, "/api/v1/topics?q=TEMP", &p)
	if p.Total != 1 || p.Items[0].Filter != "sensors/+/temp" || p.Items[0].Subscribers != 40 {
		t.Fatalf("q=TEMP: %+v", p)
	}
	e.getJSON(t, "/api/v1/topics?q=g1", &p) // matches the shared group name
	if p.Total != 1 {
		t.Fatalf("q=g1: %+v", p)
	}
	e.getJSON(t, "/api/v1/topics?per_page=2&page=2", &p)
	if p.Total != 3 || len(p.Items) != 1 {
		t.Fatalf("page 2: %+v", p)
	}
}

func TestRetained(t *testing.T) {
	e := newEnv(t, 0, Options{})
	var p Page[Retained]
	e.getJSON(t, "/api/v1/retained", &p)
	if p.Total != 4 || p.Items[0].Topic != "sensors/1/temp" || p.Items[0].Size != 5 || p.Items[0].QoS != 1 {
		t.Fatalf("retained = %+v", p)
	}
	if age := p.Items[0].AgeSeconds; math.Abs(age-90) > 5 {
		t.Errorf("age = %v, want about 90", age)
	}
	if p.Items[1].AgeSeconds != 0 {
		t.Errorf("age without a creation time = %v", p.Items[1].AgeSeconds)
	}
	var alias Page[Retained]
	e.getJSON(t, "/api/v1/topics?kind=retained&q=sensors", &alias)
	if alias.Total != 1 || alias.Items[0].Topic != "sensors/1/temp" {
		t.Fatalf("kind=retained: %+v", alias)
	}
}

func TestDeleteRetained(t *testing.T) {
	e := newEnv(t, 0, Options{})
	cases := []struct {
		name string
		path string
		want int
	}{
		{"path", "/api/v1/retained/sensors/1/temp", http.StatusNoContent},
		{"path again", "/api/v1/retained/sensors/1/temp", http.StatusNotFound},
		{"query with empty level", "/api/v1/retained?topic=a%2F%2Fb", http.StatusNoContent},
		{"query with leading slash", "/api/v1/retained?topic=%2Flead", http.StatusNoContent},
		{"escaped path", "/api/v1/retained/stat%75s", http.StatusNoContent},
		{"unknown", "/api/v1/retained/none", http.StatusNotFound},
		{"[MQTT-3.3.2-2] plus wildcard", "/api/v1/retained/a/%2B", http.StatusBadRequest},
		{"[MQTT-3.3.2-2] hash wildcard", "/api/v1/retained?topic=a%2F%23", http.StatusBadRequest},
		{"[MQTT-4.7.3-1] empty topic", "/api/v1/retained?topic=", http.StatusBadRequest},
		{"null character", "/api/v1/retained?topic=a%00", http.StatusBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if code, body, _ := e.do(t, "DELETE", c.path); code != c.want {
				t.Fatalf("%d %s, want %d", code, body, c.want)
			}
		})
	}
	if len(e.b.retained) != 0 {
		t.Fatalf("left: %+v", e.b.retained)
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	e := newEnv(t, 0, Options{})
	cases := []struct {
		method, path string
		want         int
	}{
		{"GET", "/api/v1/nothing", http.StatusNotFound},
		{"GET", "/api/v2/overview", http.StatusNotFound},
		{"POST", "/api/v1/overview", http.StatusMethodNotAllowed},
		{"PUT", "/api/v1/clients/x", http.StatusMethodNotAllowed},
		{"GET", "/debug/pprof/", http.StatusNotFound}, // pprof off by default
		{"GET", "/nothing", http.StatusNotFound},
	}
	for _, c := range cases {
		if code, body, _ := e.do(t, c.method, c.path); code != c.want {
			t.Errorf("%s %s = %d %s, want %d", c.method, c.path, code, body, c.want)
		}
	}
}

func TestPprof(t *testing.T) {
	e := newEnv(t, 0, Options{Pprof: true, Address: "127.0.0.1:0", AllowAnonymous: true})
	code, body, _ := e.do(t, "GET", "/debug/pprof/")
	if code != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("pprof index: %d", code)
	}
	if code, _, _ := e.do(t, "GET", "/debug/pprof/goroutine?debug=1"); code != http.StatusOK {
		t.Fatalf("pprof goroutine: %d", code)
	}
	if _, ok := http.DefaultServeMux.Handler(httptest.NewRequest("GET", "/debug/pprof/", nil)); ok == "/debug/pprof/" {
		t.Fatal("pprof registered on DefaultServeMux")
	}
}

func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t, 0, Options{})
	e.m.Listener("tcp", "tcp", ":1883", false).Opened()
	s := e.m.Shard(1)
	for i := 0; i < 5; i++ {
		s.PacketIn(codec.PUBLISH)
	}
	s.Dropped(1, metrics.DropQueueFull)
	s.ObserveLatency(2_000_000)
	code, body, h := e.do(t, "GET", "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("content type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string, labels map[string]string) float64 {
		t.Helper()
		mf := fams[name]
		if mf == nil {
			t.Fatalf("missing %s", name)
		}
	next:
		for _, m := range mf.Metric {
			for _, lp := range m.Label {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
		}
		t.Fatalf("%s%v not found", name, labels)
		return 0
	}
	if v := get("tsubame_connections", map[string]string{"listener": "tcp"}); v != 1 {
		t.Errorf("connections = %v", v)
	}
	if v := get("tsubame_packets_received_total", map[string]string{"type": "publish"}); v != 5 {
		t.Errorf("publish in = %v", v)
	}
	if v := get("tsubame_messages_dropped_total", map[string]string{"qos": "1", "reason": "queue_full"}); v != 1 {
		t.Errorf("dropped = %v", v)
	}
	if v := fams["tsubame_delivery_latency_seconds"].Metric[0].Histogram.GetSampleCount(); v != 1 {
		t.Errorf("latency count = %v", v)
	}
	if get("go_goroutines", nil) < 1 {
		t.Error("no Go runtime metrics")
	}
	if _, ok := fams["process_resident_memory_bytes"]; !ok {
		t.Error("no process metrics")
	}
}

func TestStartShutdown(t *testing.T) {
	b := newFakeBroker(2)
	m := metrics.New(metrics.Config{Shards: 1})
	s := New(b, m, Options{Address: "127.0.0.1:0", AllowAnonymous: true})
	if s.Addr() != nil {
		t.Fatal("Addr before Start")
	}
	if err := s.Shutdown(context.Background()); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Shutdown before Start = %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start = %v", err)
	}
	resp, err := http.Get("http://" + s.Addr().String() + "/api/v1/clients")
	if err != nil {
		t.Fatal(err)
	}
	var p Page[Client]
	err = json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if err != nil || p.Total != 2 {
		t.Fatalf("clients over a real listener: %v %+v", err, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("second Shutdown = %v", err)
	}
	busy := New(b, m, Options{Address: "127.0.0.1:bad"})
	if err := busy.Start(); err == nil {
		t.Fatal("Start on a bad address succeeded")
	}
}

func TestNewPanicsOnNil(t *testing.T) {
	for name, f := range map[string]func(){
		"broker":  func() { New(nil, metrics.New(metrics.Config{}), Options{}) },
		"metrics": func() { New(newFakeBroker(0), nil, Options{}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("nil %s did not panic", name)
				}
			}()
			f()
		}()
	}
	if s := New(newFakeBroker(0), metrics.New(metrics.Config{}), Options{}); s.o.Address != DefaultAddress || !s.loopback {
		t.Fatalf("default address %q loopback=%v", s.o.Address, s.loopback)
	}
}

func TestContainsFold(t *testing.T) {
	cases := []struct {
		s, sub string
		want   bool
	}{
		{"Client-1", "client", true}, {"abc", "", true}, {"", "a", false},
		{"abc", "abcd", false}, {"\u212Aey", "key", true}, {"a\u017Fb", "SB", true}, {"xÉtéy", "été", true}, {"ÉTÉ", "été", true}, {"\xff\xfeab", "AB", true}, {"ab", "\u212A", false}, {"sensor/1", "OR/", true},
	}
	for _, c := range cases {
		if got := containsFold(c.s, c.sub); got != c.want {
			t.Errorf("containsFold(%q, %q) = %v", c.s, c.sub, got)
		}
	}
}
