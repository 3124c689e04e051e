package admin

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tsubame-mq/tsubame/engine/metrics"
)

func TestAuth(t *testing.T) {
	users := map[string]string{"root": "s3cret", "viewer": "pw", "ops": "ops-pw"}
	authenticate := func(u, p string) bool { pw, ok := users[u]; return ok && pw == p }
	admins := []string{"root", "ops"}

	type req struct {
		user, pass string // "" user: no Authorization header
		remote     string // RemoteAddr; default loopback
		host       string // Host header; default 127.0.0.1:18083
		path       string // default /api/v1/overview
	}
	cases := []struct {
		name string
		o    Options
		r    req
		want int
	}{
		{"non-loopback listener refuses anonymous",
			Options{Address: "0.0.0.0:18083", AllowAnonymous: true, Authenticate: authenticate, AdminUsers: admins},
			req{}, http.StatusUnauthorized},
		{"loopback listener refuses anonymous unless allowed",
			Options{Address: "127.0.0.1:18083", Authenticate: authenticate, AdminUsers: admins},
			req{}, http.StatusUnauthorized},
		{"loopback listener with anonymous allowed",
			Options{Address: "127.0.0.1:18083", AllowAnonymous: true},
			req{}, http.StatusOK},
		{"localhost listener with anonymous allowed",
			Options{Address: "localhost:18083", AllowAnonymous: true},
			req{host: "localhost:18083"}, http.StatusOK},
		{"ipv6 loopback listener with anonymous allowed",
			Options{Address: "[::1]:18083", AllowAnonymous: true},
			req{remote: "[::1]:5000", host: "[::1]:18083"}, http.StatusOK},
		{"anonymous from a non-loopback peer",
			Options{Address: "127.0.0.1:18083", AllowAnonymous: true},
			req{remote: "192.0.2.7:4000"}, http.StatusUnauthorized},
		{"anonymous with a rebinding Host header",
			Options{Address: "127.0.0.1:18083", AllowAnonymous: true},
			req{host: "evil.example:18083"}, http.StatusUnauthorized},
		{"admin user",
			Options{Address: "0.0.0.0:18083", Authenticate: authenticate, AdminUsers: admins},
			req{user: "root", pass: "s3cret", remote: "192.0.2.7:4000", host: "broker.example"}, http.StatusOK},
		{"second admin user",
			Options{Address: "0.0.0.0:18083", Authenticate: authenticate, AdminUsers: admins},
			req{user: "ops", pass: "ops-pw"}, http.StatusOK},
		{"wrong password",
			Options{Address: "0.0.0.0:18083", Authenticate: authenticate, AdminUsers: admins},
			req{user: "root", pass: "nope"}, http.StatusUnauthorized},
		{"unknown user",
			Options{Address: "0.0.0.0:18083", Authenticate: authenticate, AdminUsers: admins},
			req{user: "mallory", pass: "x"}, http.StatusUnauthorized},
		{"authenticated non-admin is forbidden",
			Options{Address: "0.0.0.0:18083", Authenticate: authenticate, AdminUsers: admins},
			req{user: "viewer", pass: "pw"}, http.StatusForbidden},
		{"no admin list means no admins",
			Options{Address: "0.0.0.0:18083", Authenticate: authenticate},
			req{user: "root", pass: "s3cret"}, http.StatusForbidden},
		{"nil Authenticate refuses credentials",
			Options{Address: "0.0.0.0:18083", AdminUsers: admins},
			req{user: "root", pass: "s3cret"}, http.StatusUnauthorized},
		{"bad credentials are refused even where anonymous is allowed",
			Options{Address: "127.0.0.1:18083", AllowAnonymous: true, Authenticate: authenticate, AdminUsers: admins},
			req{user: "root", pass: "bad"}, http.StatusUnauthorized},
		{"console needs auth too",
			Options{Address: "0.0.0.0:18083", Authenticate: authenticate, AdminUsers: admins},
			req{path: "/"}, http.StatusUnauthorized},
		{"metrics need auth by default",
			Options{Address: "0.0.0.0:18083", Authenticate: authenticate, AdminUsers: admins},
			req{path: "/metrics"}, http.StatusUnauthorized},
		{"public metrics",
			Options{Address: "0.0.0.0:18083", Authenticate: authenticate, AdminUsers: admins, PublicMetrics: true},
			req{path: "/metrics"}, http.StatusOK},
		{"public metrics do not open the API",
			Options{Address: "0.0.0.0:18083", Authenticate: authenticate, AdminUsers: admins, PublicMetrics: true},
			req{}, http.StatusUnauthorized},
		{"kick needs auth",
			Options{Address: "0.0.0.0:18083", Authenticate: authenticate, AdminUsers: admins},
			req{path: "/api/v1/clients/client-000"}, http.StatusUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newFakeBroker(1)
			s := New(b, metrics.New(metrics.Config{Shards: 1}), c.o)
			if c.r.path == "" {
				c.r.path = "/api/v1/overview"
			}
			method := "GET"
			if c.name == "kick needs auth" {
				method = "DELETE"
			}
			r := httptest.NewRequest(method, c.r.path, nil)
			r.RemoteAddr = "127.0.0.1:40000"
			if c.r.remote != "" {
				r.RemoteAddr = c.r.remote
			}
			r.Host = "127.0.0.1:18083"
			if c.r.host != "" {
				r.Host = c.r.host
			}
			if c.r.user != "" {
				r.SetBasicAuth(c.r.user, c.r.pass)
			}
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, r)
			if w.Code != c.want {
				t.Fatalf("status %d %s, want %d", w.Code, w.Body, c.want)
			}
			if c.want == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
			if w.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Fatal("security headers missing")
			}
			if len(b.kicked) != 0 {
				t.Fatal("an unauthorised request kicked a client")
			}
		})
	}
}
