//go:build !race

package auth

import "testing"

// TestAllowedZeroAlloc: Allowed runs per PUBLISH and per delivery on event
// loops and must not allocate.
func TestAllowedZeroAlloc(t *testing.T) {
	data, err := readFileString("testdata/acl/basic.acl")
	if err != nil {
		t.Fatal(err)
	}
	a := newTestAuth(t, data)
	cases := []struct {
		name, user, client, topic string
		acc                       Access
	}{
		{"user literal", "alice", "c1", "alice/a/b", Write},
		{"user deny", "alice", "c1", "alice/secret/x", Read},
		{"pattern %u", "carol", "c1", "users/carol/x", Read},
		{"pattern %c", "", "cl1", "clients/cl1/inbox", Read},
		{"wildcard user", "#", "c1", "users/anything", Read},
		{"subscribe filter", "alice", "c1", "shared/+/status", Subscribe},
		{"shared subscribe", "alice", "c1", "$share/g/alice/#", Subscribe},
		{"$SYS", "bob", "c1", "$SYS/broker/uptime", Read},
		{"unknown user", "zed", "c1", "x/y", Write},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			user, client, topic, acc := c.user, c.client, c.topic, c.acc
			if n := testing.AllocsPerRun(200, func() { a.Allowed(user, client, topic, acc) }); n != 0 {
				t.Errorf("%v allocs per Allowed", n)
			}
		})
	}
}
