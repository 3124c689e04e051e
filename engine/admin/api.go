package admin

import (
	"encoding/json"
	"errors"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tsubame-mq/tsubame/engine/metrics"
)

// Page sizes. A page is the most the server copies out of the broker for one
// request.
const (
	DefaultPerPage = 50
	MaxPerPage     = 1000
	maxPage        = 1 << 30 // keeps (page-1)*per_page far from overflow
	historyPoints  = 300     // the console chart: 5 minutes of 1 s points
)

// Overview is GET /api/v1/overview.
type Overview struct {
	Version          string         `json:"version"`
	StartedAt        time.Time      `json:"started_at"`
	UptimeSeconds    float64        `json:"uptime_seconds"`
	Connections      int64          `json:"connections"`
	ConnectionsMax   int64          `json:"connections_max"`
	Sessions         int64          `json:"sessions"`
	Subscriptions    int64          `json:"subscriptions"`
	Retained         int64          `json:"retained"`
	Inflight         int64          `json:"inflight"`
	Queued           int64          `json:"queued"`
	Rates            metrics.Rates  `json:"rates"`
	MessagesReceived uint64         `json:"messages_received"`
	MessagesSent     uint64         `json:"messages_sent"`
	MessagesDropped  uint64         `json:"messages_dropped"`
	BytesIn          uint64         `json:"bytes_in"`
	BytesOut         uint64         `json:"bytes_out"`
	Memory           metrics.Memory `json:"memory"`
}

// Listener is one entry of GET /api/v1/listeners.
type Listener struct {
	Name             string `json:"name"`
	Type             string `json:"type"`
	Address          string `json:"address"`
	TLS              bool   `json:"tls"`
	Connections      int64  `json:"connections"`
	ConnectionsTotal uint64 `json:"connections_total"`
}

// Page is the envelope of every list response.
type Page[T any] struct {
	Total   int `json:"total"` // entries matching the filter, on all pages
	Page    int `json:"page"`
	PerPage int `json:"per_page"`
	Items   []T `json:"items"`
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // a failed write means the client went away
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, errorBody{Error: err.Error()})
}

func (s *Server) overview(w http.ResponseWriter, _ *http.Request) {
	var t metrics.Totals
	s.m.Read(&t)
	writeJSON(w, http.StatusOK, Overview{
		Version:          s.m.Version(),
		StartedAt:        s.m.StartTime(),
		UptimeSeconds:    s.m.Uptime().Seconds(),
		Connections:      t.ConnectionsCurrent,
		ConnectionsMax:   t.ConnectionsMax,
		Sessions:         t.Sessions,
		Subscriptions:    t.Subscriptions,
		Retained:         t.Retained,
		Inflight:         t.Inflight,
		Queued:           t.Queued,
		Rates:            s.m.Rates(),
		MessagesReceived: t.ReceivedTotal(),
		MessagesSent:     t.DeliveredTotal(),
		MessagesDropped:  t.DroppedTotal(),
		BytesIn:          t.BytesIn,
		BytesOut:         t.BytesOut,
		Memory:           metrics.ReadMemory(),
	})
}

func (s *Server) rates(w http.ResponseWriter, r *http.Request) {
	n := historyPoints
	if v := r.URL.Query().Get("points"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 900 {
			writeError(w, http.StatusBadRequest, ErrHistoryTooLong)
			return
		}
		n = p
	}
	writeJSON(w, http.StatusOK, struct {
		Points []metrics.RatePoint `json:"points"`
	}{s.m.History(make([]metrics.RatePoint, 0, n), n)})
}

func (s *Server) listeners(w http.ResponseWriter, _ *http.Request) {
	ls := s.m.Listeners()
	out := make([]Listener, len(ls))
	for i, l := range ls {
		out[i] = Listener{l.Name, l.Type, l.Address, l.TLS, l.Current(), l.Total()}
	}
	writeJSON(w, http.StatusOK, struct {
		Items []Listener `json:"items"`
	}{out})
}

// paging reads page and per_page.
func paging(r *http.Request) (page, per int, err error) {
	q := r.URL.Query()
	page, per = 1, DefaultPerPage
	if v := q.Get("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 1 || page > maxPage {
			return 0, 0, ErrBadPage
		}
	}
	if v := q.Get("per_page"); v != "" {
		if per, err = strconv.Atoi(v); err != nil || per < 1 || per > MaxPerPage {
			return 0, 0, ErrBadPerPage
		}
	}
	return page, per, nil
}

// paginate walks seq once, counting the entries that match and copying only
// those on the requested page.
func paginate[T any](seq iter.Seq[*T], match func(*T) bool, page, per int) Page[T] {
	start := (page - 1) * per
	p := Page[T]{Page: page, PerPage: per, Items: make([]T, 0, min(per, 64))}
	for v := range seq {
		if !match(v) {
			continue
		}
		if p.Total >= start && p.Total < start+per {
			p.Items = append(p.Items, *v)
		}
		p.Total++
	}
	return p
}

// containsFold reports whether sub is in s under Unicode case folding (as
// strings.EqualFold), without allocating. Folding may change a rune's byte
// length (the Kelvin sign folds to 'k'), so it matches rune by rune.
func containsFold(s, sub string) bool {
	if sub == "" {
		return true
	}
	c0 := lower(sub[0])
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < utf8.RuneSelf && sub[0] < utf8.RuneSelf && lower(c) != c0 {
			continue // ASCII against ASCII: the first byte already differs
		}
		if c >= utf8.RuneSelf && !utf8.RuneStart(c) {
			continue
		}
		if hasPrefixFold(s[i:], sub) {
			return true
		}
	}
	return false
}

// hasPrefixFold reports whether s starts with prefix under case folding.
func hasPrefixFold(s, prefix string) bool {
	for prefix != "" {
		if s == "" {
			return false
		}
		a, b := s[0], prefix[0]
		if a < utf8.RuneSelf && b < utf8.RuneSelf {
			if lower(a) != lower(b) {
				return false
			}
			s, prefix = s[1:], prefix[1:]
			continue
		}
		r1, n1 := utf8.DecodeRuneInString(s)
		r2, n2 := utf8.DecodeRuneInString(prefix)
		if !foldEqual(r1, r2) {
			return false
		}
		s, prefix = s[n1:], prefix[n2:]
	}
	return true
}

// foldEqual reports whether a and b are in the same case-folding orbit.
func foldEqual(a, b rune) bool {
	if a == b {
		return true
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// GET /api/v1/clients?listener=&user=&q=&connected=&page=&per_page=
func (s *Server) clients(w http.ResponseWriter, r *http.Request) {
	page, per, err := paging(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	q := r.URL.Query()
	listener, user, text := q.Get("listener"), q.Get("user"), q.Get("q")
	_, hasUser := q["user"] // user= (empty) selects clients without a user name
	connected := q.Get("connected")
	if connected != "" && connected != "true" && connected != "false" {
		writeError(w, http.StatusBadRequest, errors.New("connected must be true or false"))
		return
	}
	match := func(c *Client) bool {
		return (listener == "" || c.Listener == listener) &&
			(!hasUser || c.User == user) &&
			(connected == "" || c.Connected == (connected == "true")) &&
			(text == "" || containsFold(c.ID, text) || containsFold(c.RemoteAddr, text) || containsFold(c.User, text))
	}
	writeJSON(w, http.StatusOK, paginate(s.b.Clients(), match, page, per))
}

func (s *Server) client(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" {
		writeError(w, http.StatusBadRequest, ErrMissingID)
		return
	}
	c, ok := s.b.Client(id)
	if !ok {
		writeError(w, http.StatusNotFound, ErrNotFound)
		return
	}
	if c.SubscriptionList == nil {
		c.SubscriptionList = []ClientSubscription{}
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) kick(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" {
		writeError(w, http.StatusBadRequest, ErrMissingID)
		return
	}
	if !s.b.Kick(id) {
		writeError(w, http.StatusNotFound, ErrNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// GET /api/v1/topics?kind=subscriptions|retained&q=&page=&per_page=
func (s *Server) topics(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Query().Get("kind") {
	case "", "subscriptions":
	case "retained":
		s.retained(w, r)
		return
	default:
		writeError(w, http.StatusBadRequest, ErrBadKind)
		return
	}
	page, per, err := paging(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	text := r.URL.Query().Get("q")
	match := func(t *Topic) bool {
		return text == "" || containsFold(t.Filter, text) || containsFold(t.Group, text)
	}
	writeJSON(w, http.StatusOK, paginate(s.b.Topics(), match, page, per))
}

// GET /api/v1/retained?q=&page=&per_page=
func (s *Server) retained(w http.ResponseWriter, r *http.Request) {
	page, per, err := paging(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	text := r.URL.Query().Get("q")
	match := func(m *Retained) bool { return text == "" || containsFold(m.Topic, text) }
	p := paginate(s.b.Retained(), match, page, per)
	now := time.Now()
	for i := range p.Items {
		if c := p.Items[i].Created; !c.IsZero() {
			p.Items[i].AgeSeconds = now.Sub(c).Seconds()
		}
	}
	writeJSON(w, http.StatusOK, p)
}

// DELETE /api/v1/retained/{topic...} or DELETE /api/v1/retained?topic=
// (the query form carries topics with empty levels, such as "a//b" or "/a",
// which a path cannot).
func (s *Server) deleteRetained(w http.ResponseWriter, r *http.Request) {
	topic := r.PathValue("topic")
	if topic == "" {
		topic = r.URL.Query().Get("topic")
	}
	// A topic name never holds wildcards [MQTT-3.3.2-2] and is never empty
	// [MQTT-4.7.3-1].
	if topic == "" || strings.ContainsAny(topic, "+#\x00") {
		writeError(w, http.StatusBadRequest, ErrBadTopic)
		return
	}
	if !s.b.DeleteRetained(topic) {
		writeError(w, http.StatusNotFound, ErrNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
