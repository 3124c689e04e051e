package adminlive

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	paho "github.com/eclipse/paho.golang/paho"

	"github.com/tsubame-mq/tsubame/engine/admin"
)

// TestAPICountsLiveClients connects MQTT 3.1 and 3.1.1 clients (one over
// WebSocket) and an MQTT 5 client, has them subscribe and publish known
// traffic, and checks every count the API reports against it.
func TestAPICountsLiveClients(t *testing.T) {
	t.Parallel()
	l := startBroker(t, nil)

	c31 := connect3(t, v3Options("tcp://"+l.tcp, "c31", 3, true))
	c31.sub(t, "sensors/+/temp", 0)
	c311 := connect3(t, v3Options("ws://"+l.ws+"/mqtt", "c311", 4, true).SetUsername("alice"))
	c311.sub(t, "sensors/+/temp", 1)
	c311.sub(t, "jobs/#", 1)
	c5 := connect5(t, l.tcp, "c5", "bob", true, 0)
	c5.sub(t, "sensors/+/temp", 1)
	pub := connect5(t, l.tcp, "pub5", "", true, 0)

	const n = 10
	for i := 0; i < n; i++ {
		pub.pub(t, "sensors/1/temp", 1, false, fmt.Sprintf("%d", 20+i))
	}
	pub.pub(t, "status/pub5", 1, true, "online")
	for _, got := range []*counter{c31.got, c311.got, c5.got} {
		eventually(t, waitShort, func() bool { return got.count("sensors/1/temp") == n },
			func() string { return fmt.Sprintf("subscriber got %d of %d", got.count("sensors/1/temp"), n) })
	}

	// Counters are read from atomics updated as the loops run; the last
	// delivery's counters land right after the subscriber saw it.
	var o admin.Overview
	eventually(t, waitShort, func() bool {
		o = l.overview(t)
		return o.MessagesSent == 3*n && o.MessagesReceived == n+1
	}, func() string { return "overview: " + show(o) })
	if o.Connections != 4 || o.ConnectionsMax != 4 || o.Sessions != 4 || o.Subscriptions != 4 || o.Retained != 1 {
		t.Errorf("overview connections/max/sessions/subscriptions/retained = %d/%d/%d/%d/%d, want 4/4/4/4/1",
			o.Connections, o.ConnectionsMax, o.Sessions, o.Subscriptions, o.Retained)
	}
	if o.Inflight != 0 || o.Queued != 0 || o.MessagesDropped != 0 {
		t.Errorf("overview inflight/queued/dropped = %d/%d/%d, want 0/0/0", o.Inflight, o.Queued, o.MessagesDropped)
	}
	if o.Version == "" || o.BytesIn == 0 || o.BytesOut == 0 {
		t.Errorf("overview version %q bytes in/out %d/%d", o.Version, o.BytesIn, o.BytesOut)
	}

	lis := l.listeners(t)
	if x := lis["tcp"]; x.Connections != 3 || x.ConnectionsTotal != 3 || x.Type != "tcp" || x.Address != l.tcp {
		t.Errorf("listener tcp = %+v, want 3 connections at %s", x, l.tcp)
	}
	if x := lis["ws"]; x.Connections != 1 || x.ConnectionsTotal != 1 || x.Type != "ws" || x.Address != l.ws {
		t.Errorf("listener ws = %+v, want 1 connection at %s", x, l.ws)
	}

	page := l.clients(t, "")
	if page.Total != 4 || len(page.Items) != 4 {
		t.Fatalf("clients total %d items %v, want 4", page.Total, ids(page.Items))
	}
	if got := ids(page.Items); !slices.IsSorted(got) {
		t.Errorf("clients not in a stable (sorted) order: %v", got)
	}
	cs := byID(page.Items)
	for _, w := range []struct {
		id, user, listener string
		level              byte
		subs               int
		in, out            uint64
	}{
		{"c31", "", "tcp", 3, 1, 0, n},
		{"c311", "alice", "ws", 4, 2, 0, n},
		{"c5", "bob", "tcp", 5, 1, 0, n},
		{"pub5", "", "tcp", 5, 0, n + 1, 0},
	} {
		c, ok := cs[w.id]
		if !ok {
			t.Errorf("client %s missing", w.id)
			continue
		}
		if c.User != w.user || c.Listener != w.listener || c.ProtocolLevel != w.level || c.Subscriptions != w.subs ||
			c.MessagesIn != w.in || c.MessagesOut != w.out || !c.Connected || !c.CleanStart || c.KeepAlive != 30 ||
			c.RemoteAddr == "" || c.ConnectedAt.IsZero() || time.Since(c.ConnectedAt) > time.Minute {
			t.Errorf("client %s = %s, want user %q listener %s level %d subs %d in %d out %d", w.id, show(c), w.user, w.listener, w.level, w.subs, w.in, w.out)
		}
	}

	var d admin.ClientDetail
	l.get(t, "/api/v1/clients/c311", &d)
	want := []admin.ClientSubscription{{Filter: "jobs/#", QoS: 1}, {Filter: "sensors/+/temp", QoS: 1}}
	if !slices.Equal(d.SubscriptionList, want) || d.ID != "c311" {
		t.Errorf("client c311 detail subscriptions %s, want %s", show(d.SubscriptionList), show(want))
	}
	if st, _ := l.do(t, http.MethodGet, "/api/v1/clients/nobody"); st != http.StatusNotFound {
		t.Errorf("GET unknown client: status %d, want 404", st)
	}

	var topics admin.Page[admin.Topic]
	l.get(t, "/api/v1/topics", &topics)
	wantTopics := []admin.Topic{
		{Filter: "jobs/#", Subscribers: 1, Consumers: []string{"c311"}},
		{Filter: "sensors/+/temp", Subscribers: 3, Consumers: []string{"c31", "c311", "c5"}},
	}
	if show(topics.Items) != show(wantTopics) || topics.Total != 2 {
		t.Errorf("topics %s, want %s", show(topics), show(wantTopics))
	}

	var ret admin.Page[admin.Retained]
	l.get(t, "/api/v1/retained", &ret)
	if ret.Total != 1 || len(ret.Items) != 1 || ret.Items[0].Topic != "status/pub5" || ret.Items[0].Size != len("online") || ret.Items[0].QoS != 1 {
		t.Errorf("retained %s, want status/pub5 of 6 bytes at QoS 1", show(ret))
	}
}

// TestAPIPagination lists 23 live clients 10 at a time: every client once,
// in a stable order, with the page envelope of API.md; bad page
// parameters are 400.
func TestAPIPagination(t *testing.T) {
	t.Parallel()
	l := startBroker(t, nil)
	const n = 23
	var want []string
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("page-%02d", i)
		if i%2 == 0 {
			connect5(t, l.tcp, id, "", true, 0)
		} else {
			connect3(t, v3Options("tcp://"+l.tcp, id, 4, true))
		}
		want = append(want, id)
	}
	var got []string
	for page, size := range []int{10, 10, 3, 0} {
		p := l.clients(t, fmt.Sprintf("?per_page=10&page=%d", page+1))
		if p.Total != n || p.Page != page+1 || p.PerPage != 10 || len(p.Items) != size || p.Items == nil {
			t.Fatalf("page %d: total %d page %d per_page %d items %d (nil %v), want total %d and %d items",
				page+1, p.Total, p.Page, p.PerPage, len(p.Items), p.Items == nil, n, size)
		}
		got = append(got, ids(p.Items)...)
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages together = %v, want %v", got, want)
	}
	// Default page size is 50: all on one page.
	if p := l.clients(t, ""); p.PerPage != 50 || len(p.Items) != n {
		t.Errorf("default page: per_page %d items %d", p.PerPage, len(p.Items))
	}
	for _, q := range []string{"?page=0", "?page=x", "?per_page=0", "?per_page=1001", "?page=-1"} {
		if st, body := l.do(t, http.MethodGet, "/api/v1/clients"+q); st != http.StatusBadRequest {
			t.Errorf("GET clients%s: status %d (%s), want 400", q, st, body)
		}
	}
}

// TestAPIFiltering checks the clients, topics and retained filters against
// live clients: a substring search (case-insensitive), listener, user (and
// user= for no user), connected state, including a disconnected
// persistent session.
func TestAPIFiltering(t *testing.T) {
	t.Parallel()
	l := startBroker(t, nil)
	a1 := connect5(t, l.tcp, "alpha-1", "alice", true, 0)
	a1.sub(t, "jobs/#", 0)
	a2 := connect3(t, v3Options("ws://"+l.ws+"/mqtt", "alpha-2", 4, true).SetUsername("bob"))
	a2.sub(t, "sensors/#", 0)
	b1 := connect3(t, v3Options("tcp://"+l.tcp, "beta-1", 4, true))
	b1.pub(t, "retained/one", 0, true, "1")
	b1.pub(t, "retained/two", 0, true, "2")
	b1.pub(t, "other/three", 0, true, "3")
	p := connect5(t, l.tcp, "persist-1", "", false, 3600)
	p.sub(t, "sensors/persist", 1)
	if err := p.c.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatalf("DISCONNECT persist-1: %v", err)
	}
	eventually(t, waitShort, func() bool { return l.clients(t, "?connected=false").Total == 1 },
		func() string { return "persist-1 never shown offline: " + show(l.clients(t, "").Items) })

	for _, c := range []struct{ query, want string }{
		{"?q=alpha", "alpha-1 alpha-2"},
		{"?q=ALPHA", "alpha-1 alpha-2"}, // case-insensitive
		{"?q=ali", "alpha-1"},           // user name
		{"?q=127.0.0.1", "alpha-1 alpha-2 beta-1"},
		{"?listener=ws", "alpha-2"},
		{"?listener=tcp&connected=true", "alpha-1 beta-1"},
		{"?listener=nope", ""},
		{"?user=alice", "alpha-1"},
		{"?user=", "beta-1 persist-1"},
		{"?connected=false", "persist-1"},
		{"?connected=true", "alpha-1 alpha-2 beta-1"},
		{"?q=a&per_page=1&page=2", "alpha-2"},
	} {
		pg := l.clients(t, c.query)
		got := fmt.Sprint(ids(pg.Items))
		if got != "["+c.want+"]" {
			t.Errorf("clients%s = %s, want [%s]", c.query, got, c.want)
		}
	}
	if pg := l.clients(t, "?q=a&per_page=1"); pg.Total != 3 {
		t.Errorf("total under filter q=a = %d, want 3 (alpha-1, alpha-2, beta-1), counted over all pages", pg.Total)
	}
	offline := l.clients(t, "?connected=false").Items[0]
	if offline.RemoteAddr != "" || offline.SessionExpiry != 3600 || offline.CleanStart || offline.Subscriptions != 1 {
		t.Errorf("offline session %s", show(offline))
	}
	if st, _ := l.do(t, http.MethodGet, "/api/v1/clients?connected=maybe"); st != http.StatusBadRequest {
		t.Errorf("connected=maybe: status %d, want 400", st)
	}

	var topics admin.Page[admin.Topic]
	l.get(t, "/api/v1/topics?q=SENSORS", &topics)
	var filters []string
	for _, x := range topics.Items {
		filters = append(filters, x.Filter)
	}
	if fmt.Sprint(filters) != "[sensors/# sensors/persist]" || topics.Total != 2 {
		t.Errorf("topics?q=SENSORS = %v (total %d), want [sensors/# sensors/persist]", filters, topics.Total)
	}
	var ret admin.Page[admin.Retained]
	l.get(t, "/api/v1/retained?q=retained/", &ret)
	var rt []string
	for _, x := range ret.Items {
		rt = append(rt, x.Topic)
	}
	if fmt.Sprint(rt) != "[retained/one retained/two]" || ret.Total != 2 {
		t.Errorf("retained?q=retained/ = %v, want [retained/one retained/two]", rt)
	}
	var viaTopics admin.Page[admin.Retained]
	l.get(t, "/api/v1/topics?kind=retained&q=other", &viaTopics)
	if viaTopics.Total != 1 || viaTopics.Items[0].Topic != "other/three" {
		t.Errorf("topics?kind=retained&q=other = %s", show(viaTopics))
	}
	if st, _ := l.do(t, http.MethodGet, "/api/v1/topics?kind=nope"); st != http.StatusBadRequest {
		t.Errorf("kind=nope: status %d, want 400", st)
	}
}

// TestAPIKick kicks live clients: the MQTT 5 client gets DISCONNECT with
// reason 0x98 (Administrative action) and the 3.1 and 3.1.1 clients lose
// their connection; each kick is counted as admin_kick; a persistent
// session survives the kick as offline; unknown ids are 404.
func TestAPIKick(t *testing.T) {
	t.Parallel()
	l := startBroker(t, nil)
	k5 := connect5(t, l.tcp, "kick5", "", true, 0)
	k3 := connect3(t, v3Options("tcp://"+l.tcp, "kick311", 4, true))
	k31 := connect3(t, v3Options("ws://"+l.ws+"/mqtt", "kick31", 3, true))
	kp := connect5(t, l.tcp, "kick5-persistent", "", false, 600)
	kp.sub(t, "keep/me", 1)
	stay := connect5(t, l.tcp, "stays", "", true, 0)

	for _, id := range []string{"kick5", "kick311", "kick31", "kick5-persistent"} {
		if st, body := l.do(t, http.MethodDelete, "/api/v1/clients/"+url.PathEscape(id)); st != http.StatusNoContent {
			t.Fatalf("DELETE client %s: status %d (%s), want 204", id, st, body)
		}
	}
	for name, v := range map[string]*v5{"kick5": k5, "kick5-persistent": kp} {
		select {
		case d := <-v.server:
			if d.ReasonCode != 0x98 {
				t.Errorf("%s: DISCONNECT reason 0x%02x, want 0x98 (Administrative action)", name, d.ReasonCode)
			}
		case <-time.After(waitShort):
			t.Errorf("%s: no DISCONNECT from the server after the kick", name)
		}
	}
	for name, v := range map[string]*v3{"kick311": k3, "kick31": k31} {
		select {
		case <-v.lost:
		case <-time.After(waitShort):
			t.Errorf("%s: connection not lost after the kick", name)
		}
		if v.c.IsConnected() {
			t.Errorf("%s still connected", name)
		}
	}

	eventually(t, waitShort, func() bool { return l.overview(t).Connections == 1 },
		func() string { return "connections after kicks: " + show(l.overview(t)) })
	if got := ids(l.clients(t, "?connected=true").Items); fmt.Sprint(got) != "[stays]" {
		t.Errorf("connected after kicks: %v, want [stays]", got)
	}
	if got := l.clients(t, "?connected=false").Items; len(got) != 1 || got[0].ID != "kick5-persistent" || got[0].Subscriptions != 1 {
		t.Errorf("offline after kicks: %s, want the persistent session with its subscription", show(got))
	}
	// The survivor is untouched: it still publishes and receives.
	stay.sub(t, "still/here", 0)
	stay.pub(t, "still/here", 0, false, "yes")
	eventually(t, waitShort, func() bool { return stay.got.count("still/here") == 1 }, func() string { return "survivor got nothing" })

	fams := l.scrape(t)
	if got := metric(t, fams, "tsubame_disconnects_total", "reason", "admin_kick"); got != 4 {
		t.Errorf("tsubame_disconnects_total{reason=admin_kick} = %v, want 4", got)
	}
	for _, id := range []string{"kick5", "kick5-persistent", "nobody"} {
		if st, _ := l.do(t, http.MethodDelete, "/api/v1/clients/"+id); st != http.StatusNotFound {
			t.Errorf("DELETE client %s after kick: status %d, want 404 (not connected)", id, st)
		}
	}
}

// TestAPIRetainedDelete deletes retained messages through both URL forms:
// the deleted topics are gone for new subscribers, the rest stay; a second
// delete is 404, a wildcard or empty topic 400.
func TestAPIRetainedDelete(t *testing.T) {
	t.Parallel()
	l := startBroker(t, nil)
	pub := connect5(t, l.tcp, "retainer", "", true, 0)
	for _, tp := range []string{"r/a", "r/b/c", "r//x", "r/d e"} {
		pub.pub(t, tp, 1, true, "v:"+tp)
	}
	eventually(t, waitShort, func() bool { return l.overview(t).Retained == 4 },
		func() string { return "retained count: " + show(l.overview(t)) })

	for _, path := range []string{"/api/v1/retained/r/b/c", "/api/v1/retained?topic=" + url.QueryEscape("r//x"), "/api/v1/retained/r/d%20e"} {
		if st, body := l.do(t, http.MethodDelete, path); st != http.StatusNoContent {
			t.Errorf("DELETE %s: status %d (%s), want 204", path, st, body)
		}
		if st, _ := l.do(t, http.MethodDelete, path); st != http.StatusNotFound {
			t.Errorf("second DELETE %s: status %d, want 404", path, st)
		}
	}
	for _, path := range []string{"/api/v1/retained/r/%2B", "/api/v1/retained/r/%23", "/api/v1/retained?topic=", "/api/v1/retained"} {
		if st, _ := l.do(t, http.MethodDelete, path); st != http.StatusBadRequest {
			t.Errorf("DELETE %s: status %d, want 400", path, st)
		}
	}

	var ret admin.Page[admin.Retained]
	l.get(t, "/api/v1/retained", &ret)
	if ret.Total != 1 || ret.Items[0].Topic != "r/a" {
		t.Errorf("retained after deletes: %s, want only r/a", show(ret))
	}
	sub := connect5(t, l.tcp, "late", "", true, 0)
	sub.sub(t, "r/#", 1)
	eventually(t, waitShort, func() bool { return sub.got.count("r/a") == 1 }, func() string { return "r/a not delivered as retained" })
	time.Sleep(200 * time.Millisecond) // room for wrongly kept messages to arrive
	if sub.got.total() != 1 {
		t.Errorf("new subscriber got %d retained messages, want 1 (r/a): %v", sub.got.total(), sub.got.got)
	}
}
