package admin

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkClientsPage is one GET /api/v1/clients: a full walk of the
// broker's clients (to count matches) plus copying and encoding one page.
func BenchmarkClientsPage(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		for _, query := range []string{"per_page=50", "per_page=50&q=client-0999"} {
			b.Run(fmt.Sprintf("clients=%d/%s", n, query), func(b *testing.B) {
				b.ReportAllocs()
				fb := newFakeBroker(n)
				s := New(fb, newMetrics(), Options{Address: "127.0.0.1:0", AllowAnonymous: true})
				h := s.Handler()
				r := httptest.NewRequest("GET", "/api/v1/clients?"+query, nil)
				r.RemoteAddr = "127.0.0.1:1"
				r.Host = "127.0.0.1"
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatal(w.Code)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/client")
			})
		}
	}
}
