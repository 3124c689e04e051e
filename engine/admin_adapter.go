package engine

import (
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/admin"
	"github.com/tsubame-mq/tsubame/engine/metrics"
	"github.com/tsubame-mq/tsubame/router"
)

// adminView implements admin.Broker over the live broker. It runs on HTTP
// goroutines: it takes a registry shard lock only to copy the shard's
// session pointers, and each session's lock only to copy its counts, so the
// publish path is never held up by a listing.
type adminView struct{ b *Broker }

var _ admin.Broker = adminView{}

// sortedSessions is a snapshot of every session, ordered by client id so
// that pages are stable between requests.
func (v adminView) sortedSessions() []*Session {
	var list []*Session
	v.b.sessions.each(func(s *Session) bool {
		list = append(list, s)
		return true
	})
	slices.SortFunc(list, func(a, b *Session) int { return strings.Compare(a.id, b.id) })
	return list
}

func (v adminView) fill(s *Session, out *admin.Client) {
	s.mu.Lock()
	*out = admin.Client{
		ID:            s.id,
		User:          s.username,
		ProtocolLevel: s.version,
		SessionExpiry: s.expiry,
		CleanStart:    s.expiry == 0,
		Subscriptions: len(s.subs),
		Inflight:      len(s.inflight),
		Queued:        s.queue.len(),
	}
	s.mu.Unlock()
	if c := s.client.Load(); c != nil {
		out.Connected = true
		out.RemoteAddr = c.remote.String()
		out.Listener = c.lis.name
		out.KeepAlive = c.keepalive
		out.ConnectedAt = time.Unix(0, c.connectedAt)
		out.MessagesIn = c.msgsIn.Load()
		out.MessagesOut = c.msgsOut.Load()
		out.BytesIn = c.bytesIn.Load()
		out.BytesOut = c.bytesOut.Load()
	}
}

func (v adminView) Clients() iter.Seq[*admin.Client] {
	return func(yield func(*admin.Client) bool) {
		var c admin.Client
		for _, s := range v.sortedSessions() {
			v.fill(s, &c)
			if !yield(&c) {
				return
			}
		}
	}
}

func (v adminView) Client(id string) (admin.ClientDetail, bool) {
	s := v.b.sessions.get(id)
	if s == nil {
		return admin.ClientDetail{}, false
	}
	var d admin.ClientDetail
	v.fill(s, &d.Client)
	s.mu.Lock()
	for f, o := range s.subs {
		cs := admin.ClientSubscription{Filter: f, QoS: o.QoS, NoLocal: o.NoLocal, RetainAsPublished: o.RetainAsPublished, RetainHandling: o.RetainHandling, Identifier: o.SubID}
		if g, rest, ok := codec.IsShared([]byte(f)); ok {
			cs.Group, cs.Filter = string(g), string(rest)
		}
		d.SubscriptionList = append(d.SubscriptionList, cs)
	}
	s.mu.Unlock()
	slices.SortFunc(d.SubscriptionList, func(a, b admin.ClientSubscription) int { return strings.Compare(a.Filter, b.Filter) })
	return d, true
}

// Kick disconnects a client: v5 clients get DISCONNECT 0x98 first.
func (v adminView) Kick(id string) bool {
	s := v.b.sessions.get(id)
	if s == nil {
		return false
	}
	c := s.client.Load()
	if c == nil {
		return false
	}
	v.b.log.Info("client kicked by the admin API", "client", id)
	c.closeAsync(metrics.CloseAdminKick, codec.AdministrativeAction)
	return true
}

// consumersCap bounds the client ids listed per topic; Subscribers stays exact.
const consumersCap = 100

func (v adminView) Topics() iter.Seq[*admin.Topic] {
	return func(yield func(*admin.Topic) bool) {
		type agg struct {
			t admin.Topic
		}
		byFilter := make(map[string]*agg)
		for _, s := range v.sortedSessions() {
			s.mu.Lock()
			for f := range s.subs {
				a := byFilter[f]
				if a == nil {
					a = &agg{t: admin.Topic{Filter: f}}
					if g, rest, ok := codec.IsShared([]byte(f)); ok {
						a.t.Group, a.t.Filter = string(g), string(rest)
					}
					byFilter[f] = a
				}
				a.t.Subscribers++
				if len(a.t.Consumers) < consumersCap {
					a.t.Consumers = append(a.t.Consumers, s.id)
				}
			}
			s.mu.Unlock()
		}
		keys := make([]string, 0, len(byFilter))
		for k := range byFilter {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !yield(&byFilter[k].t) {
				return
			}
		}
	}
}

func (v adminView) Retained() iter.Seq[*admin.Retained] {
	return func(yield func(*admin.Retained) bool) {
		var list []*router.Message
		v.b.retained.Walk(func(m *router.Message) bool {
			list = append(list, m)
			return true
		})
		slices.SortFunc(list, func(a, b *router.Message) int { return strings.Compare(a.Topic, b.Topic) })
		var r admin.Retained
		for _, m := range list {
			r = admin.Retained{Topic: m.Topic, Size: len(m.Payload), QoS: m.QoS, Created: time.Unix(0, m.Created)}
			if !yield(&r) {
				return
			}
		}
	}
}

func (v adminView) DeleteRetained(topic string) bool { return v.b.retained.Delete(topic) }
