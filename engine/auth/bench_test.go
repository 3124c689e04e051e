package auth

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
)

func readFileString(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}

// benchACL builds an ACL of n rules: n/4 users with 3 rules each (one deny)
// and patterns making up the rest.
func benchACL(n int) string {
	var sb strings.Builder
	users := n / 4
	for i := 0; i < users; i++ {
		fmt.Fprintf(&sb, "user user%d\ntopic readwrite tenant%d/+/data/#\ntopic read shared/%d/#\ntopic deny tenant%d/admin/#\n", i, i, i, i)
	}
	for i := 3 * users; i < n; i++ {
		fmt.Fprintf(&sb, "pattern read p%d/%%u/%%c/#\n", i)
	}
	return sb.String()
}

func BenchmarkAllowed(b *testing.B) {
	for _, rules := range []int{10, 1000} {
		a := newTestAuth(b, benchACL(rules))
		u := rules/4 - 1
		user := fmt.Sprintf("user%d", u)
		cases := []struct {
			name, topic string
			acc         Access
			want        bool
		}{
			{"publish", fmt.Sprintf("tenant%d/dev42/data/temp", u), Write, true},
			{"deliver", fmt.Sprintf("shared/%d/news/today", u), Read, true},
			{"denied", fmt.Sprintf("tenant%d/admin/x", u), Write, false},
			{"pattern", fmt.Sprintf("p%d/%s/cl/x", rules-1, user), Read, true},
			{"subscribe", fmt.Sprintf("tenant%d/+/data/#", u), Subscribe, true},
		}
		for _, c := range cases {
			b.Run(fmt.Sprintf("rules=%d/op=%s", rules, c.name), func(b *testing.B) {
				if got := a.Allowed(user, "cl", c.topic, c.acc); got != c.want {
					b.Fatalf("Allowed(%q) = %v, want %v", c.topic, got, c.want)
				}
				b.ReportAllocs()
				b.SetBytes(int64(len(c.topic)))
				for b.Loop() {
					a.Allowed(user, "cl", c.topic, c.acc)
				}
			})
		}
	}
}

func BenchmarkLogin(b *testing.B) {
	a, err := New(Options{PasswordFile: "testdata/mosquitto.passwd"})
	if err != nil {
		b.Fatal(err)
	}
	for _, algo := range []struct{ name, user, pw string }{{"pbkdf2", "alice", "s3cret pass"}, {"sha512", "carol", "pässwörd"}} {
		b.Run("hash="+algo.name, func(b *testing.B) {
			b.ReportAllocs()
			u, p := []byte(algo.user), []byte(algo.pw)
			for b.Loop() {
				a.Login(ipLoopback, u, p, true, true, -1)
			}
		})
	}
}

var ipLoopback = netip.MustParseAddr("127.0.0.1")
