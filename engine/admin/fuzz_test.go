package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzQuery feeds arbitrary query strings and paths to the API: every
// request must get 200, 204, 400, 404 or 405 with a JSON body, never a
// panic or a 500.
func FuzzQuery(f *testing.F) {
	f.Add("GET", "/api/v1/clients", "page=2&per_page=3&q=client&listener=ws&user=bob")
	f.Add("GET", "/api/v1/topics", "kind=retained&q=%00")
	f.Add("DELETE", "/api/v1/retained", "topic=a%2F%2Fb")
	f.Add("DELETE", "/api/v1/clients/x%2Fy", "")
	f.Add("GET", "/api/v1/rates", "points=-1")
	s := New(newFakeBroker(20), newMetrics(), Options{Address: "127.0.0.1:0", AllowAnonymous: true})
	h := s.Handler()
	f.Fuzz(func(t *testing.T, method, path, query string) {
		if method != "GET" && method != "DELETE" {
			method = "GET"
		}
		r, err := http.NewRequest(method, "http://127.0.0.1"+path+"?"+query, nil)
		if err != nil || len(path) == 0 || path[0] != '/' {
			return // not a request a client could send
		}
		r.RemoteAddr = "127.0.0.1:1"
		r.RequestURI = r.URL.RequestURI()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 200, 204, 301, 307, 308, 400, 404, 405:
		default:
			t.Fatalf("%s %s?%s = %d %s", method, path, query, w.Code, w.Body)
		}
		if w.Code == 400 && r.URL.Path != "/" && len(r.URL.Path) > 4 && r.URL.Path[:5] == "/api/" {
			var e errorBody
			if json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error == "" {
				t.Fatalf("400 without a JSON error: %s", w.Body)
			}
		}
	})
}

// FuzzContainsFold checks containsFold against the obvious definition with
// strings.EqualFold over every pair of rune-aligned windows.
func FuzzContainsFold(f *testing.F) {
	f.Add("Client-1", "client")
	f.Add("\u212Aey", "key")
	f.Add("a\u017Fb", "SB")
	f.Add("ÉTÉ", "été")
	f.Fuzz(func(t *testing.T, s, sub string) {
		if !utf8.ValidString(s) || !utf8.ValidString(sub) || len(s) > 64 || len(sub) > 16 {
			return
		}
		want := sub == ""
		for i := range s { // rune starts
			for j := i; j <= len(s); j++ {
				if (j == len(s) || utf8.RuneStart(s[j])) && strings.EqualFold(s[i:j], sub) {
					want = true
				}
			}
		}
		if got := containsFold(s, sub); got != want {
			t.Fatalf("containsFold(%q, %q) = %v, want %v", s, sub, got, want)
		}
	})
}
