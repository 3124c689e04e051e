package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseACL feeds arbitrary files to the ACL parser and, when they parse,
// checks matching for panics and basic invariants. Seeds: testdata/acl/*.acl
// and testdata/fuzz/FuzzParseACL.
func FuzzParseACL(f *testing.F) {
	files, _ := filepath.Glob("testdata/acl/*.acl")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data, "alice", "c1", "a/b")
		}
	}
	f.Add([]byte("pattern readwrite %u/%c/#\n"), "+", "#", "+/#/x")
	f.Add([]byte("topic deny #\ntopic #\n"), "", "", "$SYS/x")
	f.Fuzz(func(t *testing.T, data []byte, user, client, topic string) {
		set, err := parseACL("fuzz.acl", data, nil)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.acl:") {
				t.Fatalf("error without file:line: %v", err)
			}
			return
		}
		a := &Auth{}
		a.state.Store(&snapshot{acl: set})
		for _, acc := range []Access{Read, Write, Read | Write, Subscribe} {
			got := a.Allowed(user, client, topic, acc)
			if got && topic == "" {
				t.Fatal("empty topic allowed")
			}
			if got && acc != Subscribe && strings.ContainsAny(topic, "+#") {
				t.Fatal("wildcard topic name allowed")
			}
		}
		// A wildcard-bearing username or client id never gains access over
		// the same request with a harmless name, through patterns.
		if strings.ContainsAny(user, "+#/") && set.users[user] == nil && set.users["\x01"] == nil && set.patterns != nil {
			if a.Allowed(user, client, topic, Read) && !a.Allowed("\x01", client, topic, Read) {
				// Only rules without %u could have matched; those match \x01 too.
				t.Fatalf("username %q widened a pattern for %q", user, topic)
			}
		}
	})
}

// FuzzVerifyPassword checks that hash parsing never panics and that only
// well-formed hashes can verify.
func FuzzVerifyPassword(f *testing.F) {
	f.Add("$7$101$WYBEiPDMV9QSCaMQ$piUURS2iXcVYAGjYiT+ft88PUofMSCBESo3vmp7Mc5UIqWmCXhfYI26nNPPggJHY+l7wWsHz8e57U8lExSNCGg==", []byte("s3cret pass"))
	f.Add("$6$jB8B8faJxwLHg4Ue$YJ85yMJZnmZtuGHG2WnnmkBgS6APFNrIWhlnwG6PncIwZbYGQ9Cxvz+PsH5d/oeVQFqPRXY3QLFCwGjaeRaWyg==", []byte("pässwörd"))
	f.Add("$7$0$$", []byte(""))
	f.Add("$6$$", []byte("x"))
	f.Fuzz(func(t *testing.T, enc string, pw []byte) {
		h, err := parseHash(enc)
		ok := VerifyPassword(enc, pw)
		if err != nil && ok {
			t.Fatalf("malformed %q verified", enc)
		}
		if err == nil && (len(h.hash) != hashLen || len(h.salt) == 0) {
			t.Fatalf("accepted hash with %d-byte digest", len(h.hash))
		}
	})
}
