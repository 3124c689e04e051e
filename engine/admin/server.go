// Package admin owns the broker's admin HTTP server: the JSON API under
// /api/v1/ (documented in API.md), the embedded web console at /, Prometheus
// metrics at /metrics and, when enabled, net/http/pprof under /debug/pprof/.
//
// Who calls it: the engine creates it with New, passing a Broker it
// implements and the metrics.Metrics its event loops count into, then calls
// Start and, on shutdown, Shutdown.
//
// What it must not do: slow the event loops. It reads atomic counters
// (metrics) and iterates the engine's snapshots through Broker; it never
// takes a lock of its own that the publish path could wait on, and it
// returns lists a page at a time so a large broker is never copied whole. It
// uses its own http.ServeMux and listener, never http.DefaultServeMux.
package admin

import (
	"context"
	"crypto/subtle"
	"errors"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tsubame-mq/tsubame/engine/metrics"
)

// DefaultAddress is where the admin server listens when Options.Address is
// empty: loopback only.
const DefaultAddress = "127.0.0.1:18083"

// Errors returned by Start and Shutdown, and sent (as their text) in API
// error bodies.
var (
	ErrStarted          = errors.New("admin: server already started")
	ErrNotStarted       = errors.New("admin: server not started")
	ErrNoBroker         = errors.New("admin: nil Broker")
	ErrNoMetrics        = errors.New("admin: nil Metrics")
	ErrUnauthorized     = errors.New("authentication required")
	ErrForbidden        = errors.New("user is not an admin")
	ErrNotFound         = errors.New("not found")
	ErrMethodNotAllowed = errors.New("method not allowed")
	ErrBadPage          = errors.New("page must be an integer >= 1")
	ErrBadPerPage       = errors.New("per_page must be an integer from 1 to 1000")
	ErrBadTopic         = errors.New("topic must be a non-empty topic name without wildcards")
	ErrBadKind          = errors.New("kind must be subscriptions or retained")
	ErrMissingID        = errors.New("client id missing")
	ErrHistoryTooLong   = errors.New("points must be an integer from 1 to 900")
)

// Options configure the server.
type Options struct {
	// Address to listen on, host:port. Empty means DefaultAddress.
	Address string
	// Pprof serves net/http/pprof under /debug/pprof/ (behind the same
	// authentication as the API).
	Pprof bool
	// Authenticate checks a user name and password (the broker's own user
	// store). Nil refuses every credential.
	Authenticate func(user, pass string) bool
	// AdminUsers are the users with the admin role: an authenticated user
	// not in this list gets 403. Empty means no user is an admin.
	AdminUsers []string
	// AllowAnonymous lets requests without credentials in, but only when
	// Address is a loopback address and the request comes from loopback
	// with a loopback Host header (which stops DNS-rebinding pages from
	// reaching the API through a browser).
	AllowAnonymous bool
	// PublicMetrics serves /metrics without authentication, for scrapers
	// that cannot send basic auth.
	PublicMetrics bool
	// ErrorLog receives the HTTP server's errors; nil means the log
	// package's standard logger.
	ErrorLog *log.Logger
}

// Server is the admin HTTP server.
type Server struct {
	b        Broker
	m        *metrics.Metrics
	o        Options
	loopback bool // Options.Address is a loopback address
	admins   map[string]struct{}
	handler  http.Handler

	mu  sync.Mutex // guards srv and ln; held only by Start and Shutdown
	srv *http.Server
	ln  net.Listener
}

// New builds a server; it does not listen until Start. It panics on a nil
// Broker or Metrics, which is a programming error in the caller.
func New(b Broker, m *metrics.Metrics, o Options) *Server {
	if b == nil {
		panic(ErrNoBroker)
	}
	if m == nil {
		panic(ErrNoMetrics)
	}
	if o.Address == "" {
		o.Address = DefaultAddress
	}
	s := &Server{b: b, m: m, o: o, admins: make(map[string]struct{}, len(o.AdminUsers))}
	for _, u := range o.AdminUsers {
		s.admins[u] = struct{}{}
	}
	if host, _, err := net.SplitHostPort(o.Address); err == nil {
		s.loopback = isLoopbackHost(host)
	}
	s.handler = s.routes()
	return s
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP. An
// empty host or an unspecified address (0.0.0.0, ::) is not loopback.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return ip != nil && ip.IsLoopback()
}

// Handler is the server's full handler (authentication included), for
// mounting elsewhere or testing with httptest.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on Options.Address and serves in a new goroutine.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return ErrStarted
	}
	ln, err := net.Listen("tcp", s.o.Address)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          s.o.ErrorLog,
		// No WriteTimeout: /debug/pprof/profile streams for its duration.
	}
	s.srv, s.ln = srv, ln
	go func() { _ = srv.Serve(ln) }() // returns ErrServerClosed after Shutdown
	return nil
}

// Addr is the address the server listens on, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Shutdown stops accepting requests and waits for active ones until ctx is
// done. The server can be started again afterwards.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv == nil {
		return ErrNotStarted
	}
	return srv.Shutdown(ctx)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()

	mux.HandleFunc("GET /api/v1/overview", s.overview)
	mux.HandleFunc("GET /api/v1/rates", s.rates)
	mux.HandleFunc("GET /api/v1/listeners", s.listeners)
	mux.HandleFunc("GET /api/v1/clients", s.clients)
	mux.HandleFunc("GET /api/v1/clients/{id...}", s.client)
	mux.HandleFunc("DELETE /api/v1/clients/{id...}", s.kick)
	mux.HandleFunc("GET /api/v1/topics", s.topics)
	mux.HandleFunc("GET /api/v1/retained", s.retained)
	mux.HandleFunc("DELETE /api/v1/retained", s.deleteRetained)
	mux.HandleFunc("DELETE /api/v1/retained/{topic...}", s.deleteRetained)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		// The catch-all outranks the mux's own 405, so tell "wrong
		// method" from "no such path" here.
		var allow []string
		for _, method := range []string{http.MethodGet, http.MethodDelete} {
			r2 := r.Clone(r.Context())
			r2.Method = method
			if _, pattern := mux.Handler(r2); pattern != "/api/" && pattern != "" {
				allow = append(allow, method)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, ErrMethodNotAllowed)
			return
		}
		writeError(w, http.StatusNotFound, ErrNotFound)
	})

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		s.m.Collector(nil),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: s.o.ErrorLog}))

	if s.o.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}

	mux.HandleFunc("GET /{$}", serveIndex)
	mux.Handle("GET /assets/", assetHandler())
	return s.authorize(mux)
}

// authorize wraps h with HTTP basic authentication for the admin role.
//
//	no credentials   -> anonymous allowed here? pass : 401
//	bad credentials  -> 401
//	not an admin     -> 403
func (s *Server) authorize(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		if s.o.PublicMetrics && r.URL.Path == "/metrics" {
			h.ServeHTTP(w, r)
			return
		}
		user, pass, ok := r.BasicAuth()
		switch {
		case !ok && s.anonymousAllowed(r):
			h.ServeHTTP(w, r)
			return
		case !ok || s.o.Authenticate == nil || !s.o.Authenticate(user, pass):
			w.Header().Set("WWW-Authenticate", `Basic realm="tsubame admin", charset="UTF-8"`)
			writeError(w, http.StatusUnauthorized, ErrUnauthorized)
			return
		case !s.isAdmin(user):
			writeError(w, http.StatusForbidden, ErrForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) isAdmin(user string) bool {
	// Compare against every admin so the time taken does not reveal which
	// prefix matched.
	found := 0
	for a := range s.admins {
		found |= subtle.ConstantTimeCompare([]byte(a), []byte(user))
	}
	return found == 1
}

func (s *Server) anonymousAllowed(r *http.Request) bool {
	if !s.o.AllowAnonymous || !s.loopback {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil || !isLoopbackHost(host) {
		return false
	}
	h := r.Host
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	return isLoopbackHost(h)
}

func securityHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
}
