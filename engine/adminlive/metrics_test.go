package adminlive

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	paho "github.com/eclipse/paho.golang/paho"
	dto "github.com/prometheus/client_model/go"
)

// TestMetricsMatchKnownTraffic does a known exchange at QoS 0, 1 and 2
// between a 3.1.1 and a 5.0 subscriber and a 5.0 publisher, then parses
// /metrics with the Prometheus text parser and checks every counter the
// exchange determines, by label, and that the byte counters equal the sum
// of the per-client counts the API shows.
func TestMetricsMatchKnownTraffic(t *testing.T) {
	t.Parallel()
	l := startBroker(t, nil)
	sub3 := connect3(t, v3Options("tcp://"+l.tcp, "m-sub3", 4, true))
	sub3.sub(t, "m/#", 1)
	sub5 := connect5(t, l.tcp, "m-sub5", "", true, 0)
	sub5.sub(t, "m/#", 2)
	pub := connect5(t, l.tcp, "m-pub", "", true, 0)

	// Publish QoS 0 x5, QoS 1 x4, QoS 2 x3 to m/..., and QoS 0 x2 to a
	// topic nobody subscribes to. Deliveries are at min(publish, granted):
	//   qos0 msgs: 2 subscribers at 0 -> delivered{0} = 10
	//   qos1 msgs: 2 subscribers at 1 -> delivered{1} = 8
	//   qos2 msgs: sub3 at 1, sub5 at 2 -> delivered{1} += 3, delivered{2} = 3
	for i := 0; i < 5; i++ {
		pub.pub(t, "m/a", 0, false, "zero")
	}
	for i := 0; i < 4; i++ {
		pub.pub(t, "m/b", 1, false, "one")
	}
	for i := 0; i < 3; i++ {
		pub.pub(t, "m/c", 2, false, "two")
	}
	for i := 0; i < 2; i++ {
		pub.pub(t, "nobody/here", 0, false, "lost")
	}
	for _, c := range []*counter{sub3.got, sub5.got} {
		eventually(t, waitShort, func() bool { return c.total() == 12 }, func() string { return fmt.Sprintf("subscriber got %d of 12", c.total()) })
	}

	type want struct {
		name   string
		labels []string
		v      float64
	}
	wants := []want{
		{"tsubame_messages_received_total", []string{"qos", "0"}, 7},
		{"tsubame_messages_received_total", []string{"qos", "1"}, 4},
		{"tsubame_messages_received_total", []string{"qos", "2"}, 3},
		{"tsubame_messages_delivered_total", []string{"qos", "0"}, 10},
		{"tsubame_messages_delivered_total", []string{"qos", "1"}, 11},
		{"tsubame_messages_delivered_total", []string{"qos", "2"}, 3},
		{"tsubame_messages_dropped_total", []string{"qos", "0", "reason", "no_subscribers"}, 2},
		{"tsubame_messages_dropped_total", []string{"qos", "1", "reason", "no_subscribers"}, 0},
		{"tsubame_messages_dropped_total", []string{"qos", "0", "reason", "queue_full"}, 0},
		{"tsubame_packets_received_total", []string{"type", "connect"}, 3},
		{"tsubame_packets_received_total", []string{"type", "subscribe"}, 2},
		{"tsubame_packets_received_total", []string{"type", "publish"}, 14},
		{"tsubame_packets_received_total", []string{"type", "puback"}, 11}, // sub3: 4+3, sub5: 4
		{"tsubame_packets_received_total", []string{"type", "pubrec"}, 3},  // sub5
		{"tsubame_packets_received_total", []string{"type", "pubrel"}, 3},  // pub
		{"tsubame_packets_received_total", []string{"type", "pubcomp"}, 3}, // sub5
		{"tsubame_packets_sent_total", []string{"type", "connack"}, 3},
		{"tsubame_packets_sent_total", []string{"type", "suback"}, 2},
		{"tsubame_packets_sent_total", []string{"type", "publish"}, 24},
		{"tsubame_packets_sent_total", []string{"type", "puback"}, 4},
		{"tsubame_packets_sent_total", []string{"type", "pubrec"}, 3},
		{"tsubame_packets_sent_total", []string{"type", "pubrel"}, 3},
		{"tsubame_packets_sent_total", []string{"type", "pubcomp"}, 3},
		{"tsubame_connects_total", []string{"reason", "success"}, 3},
		{"tsubame_connections", []string{"listener", "tcp", "type", "tcp", "tls", "false"}, 3},
		{"tsubame_connections", []string{"listener", "ws", "type", "ws", "tls", "false"}, 0},
		{"tsubame_connections_opened_total", []string{"listener", "tcp"}, 3},
		{"tsubame_delivery_latency_seconds", nil, 24},
		{"tsubame_subscriptions", nil, 2},
		{"tsubame_sessions", nil, 3},
		{"tsubame_retained_messages", nil, 0},
		{"tsubame_inflight_messages", nil, 0},
		{"tsubame_queued_messages", nil, 0},
		{"tsubame_disconnects_total", []string{"reason", "normal"}, 0},
	}
	var fams map[string]*dto.MetricFamily
	diff := func() []string {
		var bad []string
		for _, w := range wants {
			if got := metric(t, fams, w.name, w.labels...); got != w.v {
				bad = append(bad, fmt.Sprintf("%s%v = %v, want %v", w.name, w.labels, got, w.v))
			}
		}
		return bad
	}
	// The last acknowledgements (PUBCOMP) may still be on their way.
	eventually(t, waitShort, func() bool { fams = l.scrape(t); return len(diff()) == 0 },
		func() string { return strings.Join(diff(), "\n") })

	// Bytes: the broker-wide counters are the sum of the per-client ones
	// while nobody has left.
	var in, out uint64
	for _, c := range l.clients(t, "").Items {
		in += c.BytesIn
		out += c.BytesOut
	}
	if got := metric(t, fams, "tsubame_received_bytes_total"); got != float64(in) || in == 0 {
		t.Errorf("tsubame_received_bytes_total = %v, clients' bytes_in sum to %d", got, in)
	}
	if got := metric(t, fams, "tsubame_sent_bytes_total"); got != float64(out) || out == 0 {
		t.Errorf("tsubame_sent_bytes_total = %v, clients' bytes_out sum to %d", got, out)
	}
	// The histogram's buckets are cumulative and end at its count. The
	// engine reads its clock once per event-loop turn, so a message
	// delivered in the turn that received it observes 0: the sum may be 0
	// here (API.md says so), it must not be negative or absurd.
	h := fams["tsubame_delivery_latency_seconds"].GetMetric()[0].GetHistogram()
	bs := h.GetBucket()
	if !sort.SliceIsSorted(bs, func(i, j int) bool { return bs[i].GetCumulativeCount() < bs[j].GetCumulativeCount() }) ||
		bs[len(bs)-1].GetCumulativeCount() > h.GetSampleCount() || h.GetSampleSum() < 0 || h.GetSampleSum() > 24*waitShort.Seconds() {
		t.Errorf("latency histogram inconsistent: count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "tsubame_uptime_seconds"} {
		if fams[name] == nil {
			t.Errorf("%s missing from /metrics", name)
		}
	}

	// A normal DISCONNECT and a kick are counted by reason, and the
	// connection gauge follows.
	if err := pub.c.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.do(t, "DELETE", "/api/v1/clients/m-sub5"); st != 204 {
		t.Fatalf("kick m-sub5: status %d", st)
	}
	wants = []want{
		{"tsubame_disconnects_total", []string{"reason", "normal"}, 1},
		{"tsubame_disconnects_total", []string{"reason", "admin_kick"}, 1},
		{"tsubame_connections", []string{"listener", "tcp"}, 1},
		{"tsubame_connections_opened_total", []string{"listener", "tcp"}, 3},
		{"tsubame_packets_sent_total", []string{"type", "disconnect"}, 1}, // the 0x98 to the kicked v5 client
		{"tsubame_sessions", nil, 1},
		{"tsubame_subscriptions", nil, 1},
	}
	eventually(t, waitShort, func() bool { fams = l.scrape(t); return len(diff()) == 0 },
		func() string { return strings.Join(diff(), "\n") })
}
