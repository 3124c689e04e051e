package auth

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
)

func TestLogin(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.1")
	withFile := func(anon bool) *Auth {
		a, err := New(Options{PasswordFile: "testdata/mosquitto.passwd", AllowAnonymous: anon})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	noFile := func(anon bool) *Auth {
		a, err := New(Options{AllowAnonymous: anon})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	tests := []struct {
		name           string
		a              *Auth
		user, pw       string
		hasUser, hasPw bool
		override       int8
		want           byte
	}{
		{"pbkdf2 user", withFile(false), "alice", "s3cret pass", true, true, -1, codec.Success},
		{"sha512 user", withFile(false), "carol", "pässwörd", true, true, -1, codec.Success},
		{"wrong password", withFile(false), "alice", "s3cret", true, true, -1, codec.BadUsernameOrPassword},
		{"unknown user", withFile(true), "mallory", "s3cret pass", true, true, -1, codec.BadUsernameOrPassword},
		{"username without password", withFile(true), "alice", "", true, false, -1, codec.BadUsernameOrPassword},
		{"password without username [MQTT-3.1.2-22]", withFile(true), "", "s3cret pass", false, true, -1, codec.BadUsernameOrPassword},
		{"anonymous refused", withFile(false), "", "", false, false, -1, codec.NotAuthorized},
		{"anonymous allowed", withFile(true), "", "", false, false, -1, codec.Success},
		{"listener allows anonymous", withFile(false), "", "", false, false, 1, codec.Success},
		{"listener refuses anonymous", withFile(true), "", "", false, false, 0, codec.NotAuthorized},
		{"anonymous allowed still checks given credentials", withFile(true), "alice", "nope", true, true, -1, codec.BadUsernameOrPassword},
		{"no password file, anonymous", noFile(true), "", "", false, false, -1, codec.Success},
		{"no password file, any user", noFile(true), "x", "y", true, true, -1, codec.Success},
		{"no password file, anonymous refused", noFile(false), "x", "y", true, true, -1, codec.NotAuthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Login(ip, []byte(tt.user), []byte(tt.pw), tt.hasUser, tt.hasPw, tt.override); got != tt.want {
				t.Errorf("Login = %#x, want %#x", got, tt.want)
			}
		})
	}
	a := withFile(false)
	if !a.HasUsers() || a.HasACL() || a.AnonymousAllowed() {
		t.Errorf("accessors: %v", a)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestNewReportsFileAndLine(t *testing.T) {
	dir := t.TempDir()
	acl := filepath.Join(dir, "bad.acl")
	writeFile(t, acl, "topic a\n\ntopic a/#/b\n")
	_, err := New(Options{ACLFile: acl})
	if !errors.Is(err, ErrACLFile) || !strings.Contains(err.Error(), acl+":3:") {
		t.Errorf("err = %v", err)
	}
	_, err = New(Options{PasswordFile: filepath.Join(dir, "missing")})
	if !errors.Is(err, ErrPasswordFile) {
		t.Errorf("missing password file: %v", err)
	}
}

func TestReloadKeepsOldStateOnError(t *testing.T) {
	dir := t.TempDir()
	acl, pw := filepath.Join(dir, "acl"), filepath.Join(dir, "pw")
	writeFile(t, acl, "user alice\ntopic read a/#\n")
	data, _ := os.ReadFile("testdata/mosquitto.passwd")
	writeFile(t, pw, string(data))
	a, err := New(Options{ACLFile: acl, PasswordFile: pw})
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("192.0.2.1")
	check := func(wantA, wantB bool, wantLogin byte) {
		t.Helper()
		if got := a.Allowed("alice", "c", "a/x", Read); got != wantA {
			t.Errorf("a/x = %v, want %v", got, wantA)
		}
		if got := a.Allowed("alice", "c", "b/x", Read); got != wantB {
			t.Errorf("b/x = %v, want %v", got, wantB)
		}
		if got := a.Login(ip, []byte("bob"), []byte("hunter2"), true, true, -1); got != wantLogin {
			t.Errorf("bob login = %#x, want %#x", got, wantLogin)
		}
	}
	check(true, false, codec.Success)

	writeFile(t, acl, "user alice\ntopic read b/#\nbogus line\n")
	if err := a.Reload(); !errors.Is(err, ErrACLFile) {
		t.Fatalf("Reload with bad ACL: %v", err)
	}
	check(true, false, codec.Success)

	writeFile(t, acl, "user alice\ntopic read b/#\n")
	writeFile(t, pw, "bob:plain\n")
	if err := a.Reload(); !errors.Is(err, ErrPasswordFile) {
		t.Fatalf("Reload with bad password file: %v", err)
	}
	check(true, false, codec.Success) // neither file applied: all or nothing

	writeFile(t, pw, "")
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	check(false, true, codec.BadUsernameOrPassword)
}

// TestReloadConcurrent runs Allowed and Login on several goroutines while the
// files are reloaded; meaningful under -race.
func TestReloadConcurrent(t *testing.T) {
	dir := t.TempDir()
	acl := filepath.Join(dir, "acl")
	v1 := "user u\ntopic readwrite x/#\n"
	v2 := "user u\ntopic readwrite x/#\ntopic deny y/#\npattern read p/%u/#\n"
	writeFile(t, acl, v1)
	a, err := New(Options{ACLFile: acl, PasswordFile: "testdata/mosquitto.passwd"})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !a.Allowed("u", "c", "x/1", Write) {
					errs <- "x/1 denied during reload"
					return
				}
				a.Allowed("u", "c", "p/u/z", Read)
				a.Allowed("u", "c", "x/#", Subscribe)
				a.HasACL()
			}
		}()
	}
	for i := 0; i < 200; i++ {
		if i%2 == 0 {
			writeFile(t, acl, v2)
		} else {
			writeFile(t, acl, v1)
		}
		if err := a.Reload(); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case e := <-errs:
		t.Fatal(e)
	default:
	}
}

func TestLoginRecordsFailures(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	a, err := New(Options{PasswordFile: "testdata/mosquitto.passwd", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("198.51.100.7")
	for i := 0; i < 5; i++ {
		if a.LoginBlocked(ip, now) {
			t.Fatalf("blocked after %d failures", i)
		}
		a.Login(ip, []byte("bob"), []byte("wrong"), true, true, -1)
	}
	if !a.LoginBlocked(ip, now) {
		t.Fatal("not blocked after 5 failures")
	}
	if a.LoginBlocked(netip.MustParseAddr("198.51.100.8"), now) {
		t.Fatal("another address blocked")
	}
	if a.Login(ip, []byte("bob"), []byte("hunter2"), true, true, -1) != codec.Success {
		t.Fatal("good login failed")
	}
	if a.LoginBlocked(ip, now) {
		t.Fatal("success did not reset the address")
	}
}
