package adminlive

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/tsubame-mq/tsubame/engine/config"
)

// TestSysTopicsAfterKnownTraffic turns $SYS on (every second), does known
// traffic and checks the values an observer subscribed to $SYS/broker/#
// receives; a subscriber to "#" gets none of them [MQTT-4.7.2-1].
func TestSysTopicsAfterKnownTraffic(t *testing.T) {
	t.Parallel()
	l := startBroker(t, func(c *config.Config) { c.SysInterval = 1 })

	obs := connect5(t, l.tcp, "sys-observer", "", true, 0)
	obs.sub(t, "$SYS/broker/#", 0)
	all := connect3(t, v3Options("tcp://"+l.tcp, "sys-all", 4, true))
	all.sub(t, "#", 0)
	pub := connect3(t, v3Options("tcp://"+l.tcp, "sys-pub", 3, true))
	for i := 0; i < 5; i++ {
		pub.pub(t, "s/x", 1, false, "m")
	}
	pub.pub(t, "s/keep", 0, true, "kept")
	eventually(t, waitShort, func() bool { return all.got.total() == 6 },
		func() string { return fmt.Sprintf("'#' subscriber got %d of 6", all.got.total()) })

	// Every $SYS value is itself retained, so once a tick has stored them
	// the retained count is 1 + the number of $SYS topics.
	sysTopics := func() int {
		obs.got.mu.Lock()
		defer obs.got.mu.Unlock()
		return len(obs.got.got)
	}
	val := func(name string) string {
		v, _ := obs.got.payload("$SYS/broker/" + name)
		return v
	}
	num := func(name string) int {
		n, err := strconv.Atoi(val(name))
		if err != nil {
			return -1
		}
		return n
	}
	exact := map[string]int{
		"clients/connected":         3,
		"clients/disconnected":      0,
		"clients/maximum":           3,
		"clients/total":             3,
		"subscriptions/count":       2,
		"publish/messages/received": 6, // from clients; the broker's own $SYS messages are not "received"
		"publish/messages/dropped":  0, // the retained s/keep had "#" as subscriber
	}
	check := func() []string {
		var bad []string
		for k, v := range exact {
			if got := num(k); got != v {
				bad = append(bad, fmt.Sprintf("%s = %q, want %d", k, val(k), v))
			}
		}
		if got, want := num("retained messages/count"), 1+sysTopics(); got != want {
			bad = append(bad, fmt.Sprintf("retained messages/count = %q, want %d (s/keep + %d $SYS topics)", val("retained messages/count"), want, sysTopics()))
		}
		// 5 deliveries to "#" plus the retained one, plus every $SYS value
		// delivered to the observer before this tick.
		if got := num("publish/messages/sent"); got < 6 {
			bad = append(bad, fmt.Sprintf("publish/messages/sent = %q, want >= 6", val("publish/messages/sent")))
		}
		// Control packets in: 3 CONNECT, 2 SUBSCRIBE, 6 PUBLISH at least.
		if got := num("messages/received"); got < 3+2+6 {
			bad = append(bad, fmt.Sprintf("messages/received = %q, want >= 11", val("messages/received")))
		}
		// Control packets out: 3 CONNACK, 2 SUBACK, 5 PUBACK, 6 PUBLISH.
		if got := num("messages/sent"); got < 3+2+5+6 {
			bad = append(bad, fmt.Sprintf("messages/sent = %q, want >= 16", val("messages/sent")))
		}
		if got := num("bytes/received"); got <= 0 {
			bad = append(bad, fmt.Sprintf("bytes/received = %q", val("bytes/received")))
		}
		if v := val("version"); !strings.HasPrefix(v, "tsubame version ") {
			bad = append(bad, fmt.Sprintf("version = %q", v))
		}
		if v := val("uptime"); !strings.HasSuffix(v, " seconds") {
			bad = append(bad, fmt.Sprintf("uptime = %q", v))
		}
		if v := val("load/publish/received/1min"); v == "" {
			bad = append(bad, "load/publish/received/1min missing")
		}
		return bad
	}
	eventually(t, waitLong, func() bool { return len(check()) == 0 },
		func() string { return strings.Join(check(), "\n") })
	if n := sysTopics(); n < 20 {
		t.Errorf("observer saw %d $SYS topics, want the full set (>= 20)", n)
	}

	// Wildcards at the first level never match $ topics [MQTT-4.7.2-1].
	noDollar := func() {
		t.Helper()
		all.got.mu.Lock()
		defer all.got.mu.Unlock()
		for topic := range all.got.got {
			if strings.HasPrefix(topic, "$") {
				t.Errorf("'#' subscriber received %s [MQTT-4.7.2-1]", topic)
			}
		}
	}
	noDollar()

	// The publisher leaves: connected drops, maximum stays.
	pub.c.Disconnect(50)
	exact["clients/connected"] = 2
	exact["clients/total"] = 2 // clean session: gone with its connection
	eventually(t, waitLong, func() bool { return len(check()) == 0 },
		func() string { return strings.Join(check(), "\n") })
	noDollar()
}
