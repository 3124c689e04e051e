package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newTestAuth returns an Auth with acl as its ACL file.
func newTestAuth(tb testing.TB, acl string) *Auth {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "test.acl")
	if err := os.WriteFile(p, []byte(acl), 0o600); err != nil {
		tb.Fatal(err)
	}
	a, err := New(Options{ACLFile: p, AllowAnonymous: true})
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

func parseCaseAccess(tb testing.TB, s string) Access {
	switch s {
	case "r":
		return Read
	case "w":
		return Write
	case "rw":
		return Read | Write
	case "s":
		return Subscribe
	}
	tb.Fatalf("bad access %q", s)
	return 0
}

// TestACLFiles runs every testdata/acl/NAME.cases against NAME.acl. A case is
// "allow|deny USER CLIENT ACCESS TOPIC [; note]", USER "-" meaning anonymous.
func TestACLFiles(t *testing.T) {
	cases, err := filepath.Glob("testdata/acl/*.cases")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no case files: %v", err)
	}
	for _, cf := range cases {
		base := strings.TrimSuffix(cf, ".cases")
		t.Run(filepath.Base(base), func(t *testing.T) {
			a, err := New(Options{ACLFile: base + ".acl"})
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(cf)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for i, line := range strings.Split(string(data), "\n") {
				body, note, _ := strings.Cut(line, ";")
				f := strings.Fields(body)
				if len(f) == 0 || strings.HasPrefix(f[0], "#") {
					continue
				}
				if len(f) != 5 || (f[0] != "allow" && f[0] != "deny") {
					t.Fatalf("%s:%d: malformed case %q", cf, i+1, line)
				}
				user, client, acc, topic := f[1], f[2], parseCaseAccess(t, f[3]), f[4]
				if user == "-" {
					user = ""
				}
				want := f[0] == "allow"
				name := strings.Join(f, " ")
				if note = strings.TrimSpace(note); note != "" {
					name += " " + note
				}
				n++
				t.Run(name, func(t *testing.T) {
					if got := a.Allowed(user, client, topic, acc); got != want {
						t.Errorf("%s:%d: Allowed(%q, %q, %q, %d) = %v, want %v", cf, i+1, user, client, topic, acc, got, want)
					}
				})
			}
			if n == 0 {
				t.Fatalf("%s: no cases", cf)
			}
		})
	}
}

func TestACLUsernameWithSpaces(t *testing.T) {
	a := newTestAuth(t, "user with space\ntopic read spaced/topic with space\n")
	if !a.Allowed("with space", "c", "spaced/topic with space", Read) {
		t.Error("user with a space in its name not matched")
	}
	if a.Allowed("with", "c", "spaced/topic with space", Read) {
		t.Error("user name truncated at the space")
	}
}

func TestACLNoFileAllowsAll(t *testing.T) {
	a, err := New(Options{AllowAnonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.HasACL() || !a.Allowed("", "c", "$SYS/x", Read) || !a.Allowed("u", "c", "#", Subscribe) {
		t.Error("without an ACL file everything must be allowed")
	}
}

func TestACLAccessZeroDenied(t *testing.T) {
	a := newTestAuth(t, "topic #\n")
	if a.Allowed("", "c", "a", 0) {
		t.Error("access 0 allowed")
	}
	if a.Allowed("", "c", "", Read) {
		t.Error("empty topic allowed")
	}
	if !a.Allowed("", "c", "a", Read|Write) {
		t.Error("readwrite rule does not grant Read|Write")
	}
}

func TestACLTopicAccessWordAsTopic(t *testing.T) {
	// "topic readme" is a topic named readme, not an access word.
	a := newTestAuth(t, "topic readme\ntopic read  spaced  \n")
	if !a.Allowed("", "c", "readme", Write) {
		t.Error("topic readme not readwrite")
	}
	if !a.Allowed("", "c", "spaced", Read) {
		t.Error("surrounding spaces not trimmed")
	}
}

func TestACLParseErrors(t *testing.T) {
	tests := []struct {
		name, acl, want string
	}{
		{"unknown keyword", "topic a\nallow a\n", "x.acl:2: unknown keyword"},
		{"user without name", "user\n", "x.acl:1: user without"},
		{"access without topic", "topic read\n", "x.acl:1: topic read without a topic"},
		{"empty topic [MQTT-4.7.3-1]", "\n\ntopic\n", "x.acl:3: topic \"\": empty topic filter"},
		{"hash not last [MQTT-4.7.1-2]", "topic a/#/b\n", "x.acl:1:"},
		{"hash in level [MQTT-4.7.1-2]", "pattern read a#\n", "x.acl:1:"},
		{"plus in level [MQTT-4.7.1-3]", "topic write a/b+\n", "x.acl:1:"},
		{"partial %u", "pattern read a/x%u\n", "%u or %c must be a whole level"},
		{"partial %c", "pattern read a/%c-%u\n", "%u or %c must be a whole level"},
		{"NUL [MQTT-4.7.3-2]", "topic a\x00b\n", "U+0000"},
		{"too deep", "topic " + strings.Repeat("a/", maxRuleLevels) + "a\n", "levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseACL("x.acl", []byte(tt.acl), nil)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrACLFile) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrACLFile containing %q", err, tt.want)
			}
		})
	}
}

func TestACLPercentLiteralInTopicLines(t *testing.T) {
	// mosquitto substitutes only in pattern lines; in topic lines %u is text.
	a := newTestAuth(t, "topic read a/%u\ntopic read b/x%u\n")
	if a.Allowed("", "c", "a/c", Read) || !a.Allowed("", "c", "a/%u", Read) || !a.Allowed("", "c", "b/x%u", Read) {
		t.Error("%u in a topic line must be literal")
	}
}

func TestACLPatternWithoutSubstitutionWarns(t *testing.T) {
	var warned bool
	_, err := parseACL("x.acl", []byte("pattern read a/#\n"), func(string, ...any) { warned = true })
	if err != nil || !warned {
		t.Errorf("err=%v warned=%v", err, warned)
	}
}

func TestACLEmptyLevels(t *testing.T) {
	a := newTestAuth(t, "topic read a//b\ntopic read /lead\n")
	for _, tc := range []struct {
		topic string
		want  bool
	}{{"a//b", true}, {"a/b", false}, {"/lead", true}, {"lead", false}} {
		if got := a.Allowed("", "c", tc.topic, Read); got != tc.want {
			t.Errorf("%q: got %v", tc.topic, got)
		}
	}
}

func TestACLDeepTopicBoundedWork(t *testing.T) {
	a := newTestAuth(t, "topic #\ntopic deny a/+/+/+/+/+/x\n")
	deep := strings.Repeat("a/", 65000) + "z"
	if !a.Allowed("", "c", deep, Read) {
		t.Error("deep topic under # denied")
	}
	if a.Allowed("", "c", strings.Repeat("a/", 6)+"x", Read) {
		t.Error("deny not applied")
	}
}
