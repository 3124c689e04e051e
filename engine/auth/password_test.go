package auth

import (
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tsubame-mq/tsubame/codec"
)

// testdata/mosquitto.passwd was written once by Debian's mosquitto_passwd
// 2.0.11: alice and bob with the default $7$ (PBKDF2-SHA512), carol with
// "-H sha512" ($6$, the mosquitto 1.x format).
var mosquittoUsers = map[string]string{
	"alice": "s3cret pass",
	"bob":   "hunter2",
	"carol": "pässwörd",
}

func TestVerifyMosquittoVectors(t *testing.T) {
	users, err := loadPasswordFile("testdata/mosquitto.passwd")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile("testdata/mosquitto.passwd")
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		user, enc, _ := strings.Cut(line, ":")
		pw := mosquittoUsers[user]
		if !VerifyPassword(enc, []byte(pw)) {
			t.Errorf("%s: mosquitto hash %s does not verify", user, enc[:3])
		}
		if VerifyPassword(enc, []byte(pw+"x")) || VerifyPassword(enc, nil) {
			t.Errorf("%s: wrong password verifies", user)
		}
		if _, ok := users[user]; !ok {
			t.Errorf("%s not loaded", user)
		}
	}
}

func TestHashPasswordFormat(t *testing.T) {
	enc, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$7$101$") {
		t.Errorf("hash %q lacks the mosquitto 2.x $7$101$ prefix", enc)
	}
	h, err := parseHash(enc)
	if err != nil || len(h.salt) != saltLen || len(h.hash) != hashLen {
		t.Fatalf("parse %q: %+v %v", enc, h, err)
	}
	if !VerifyPassword(enc, []byte("correct horse")) || VerifyPassword(enc, []byte("correct horsE")) {
		t.Error("round trip failed")
	}
	enc2, _ := HashPassword("correct horse")
	if enc == enc2 {
		t.Error("salt is not random")
	}
	// Deterministic vector computed independently of this package's encoder
	// by mosquitto's own encoding rules is covered by TestVerifyMosquittoVectors.
}

func TestParseHashErrors(t *testing.T) {
	valid := "$7$101$WYBEiPDMV9QSCaMQ$piUURS2iXcVYAGjYiT+ft88PUofMSCBESo3vmp7Mc5UIqWmCXhfYI26nNPPggJHY+l7wWsHz8e57U8lExSNCGg=="
	tests := []struct {
		name, enc string
		want      error
	}{
		{"plain text", "hunter2", ErrHashAlgorithm},
		{"empty", "", ErrHashAlgorithm},
		{"unknown algorithm", "$5$abc$def", ErrHashAlgorithm},
		{"argon2 not supported", "$8$x$y$z", ErrHashAlgorithm},
		{"7 missing part", "$7$101$abc", ErrHashFormat},
		{"7 zero iterations", strings.Replace(valid, "$101$", "$0$", 1), ErrHashFormat},
		{"7 huge iterations", strings.Replace(valid, "$101$", "$99999999$", 1), ErrHashFormat},
		{"7 iterations not a number", strings.Replace(valid, "$101$", "$1x1$", 1), ErrHashFormat},
		{"bad salt base64", strings.Replace(valid, "WYBEiPDMV9QSCaMQ", "***", 1), ErrHashFormat},
		{"short hash", valid[:len(valid)-8] + "==", ErrHashFormat},
		{"6 extra part", "$6$a$b$c", ErrHashFormat},
		{"too long", "$7$101$" + strings.Repeat("A", maxEncodedLen), ErrHashFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseHash(tt.enc); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if VerifyPassword(tt.enc, []byte("hunter2")) {
				t.Error("malformed hash verified")
			}
		})
	}
	if _, err := parseHash(valid); err != nil {
		t.Fatalf("valid hash rejected: %v", err)
	}
}

func TestPasswordFileErrors(t *testing.T) {
	good := "alice:$6$jB8B8faJxwLHg4Ue$YJ85yMJZnmZtuGHG2WnnmkBgS6APFNrIWhlnwG6PncIwZbYGQ9Cxvz+PsH5d/oeVQFqPRXY3QLFCwGjaeRaWyg=="
	tests := []struct{ name, file, want string }{
		{"no colon", "# c\n\nalice\n", "pw:3: want username:hash"},
		{"empty user", ":$6$a$b\n", "pw:1: empty username"},
		{"duplicate", good + "\n" + good + "\n", "pw:2: duplicate user"},
		{"plain text password", "bob:hunter2\n", "pw:1: user \"bob\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parsePasswordFile("pw", []byte(tt.file))
			if !errors.Is(err, ErrPasswordFile) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrPasswordFile containing %q", err, tt.want)
			}
		})
	}
	users, err := parsePasswordFile("pw", []byte("  # indented comment\r\n"+good+"\r\n\n"))
	if err != nil || len(users) != 1 {
		t.Errorf("comments/CRLF: %v %v", users, err)
	}
	if _, err := loadPasswordFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, ErrPasswordFile) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestMosquittoPasswdInterop writes a password file with the real
// mosquitto_passwd (both hash formats) and logs in with it.
func TestMosquittoPasswdInterop(t *testing.T) {
	bin, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		t.Skip("mosquitto_passwd not installed")
	}
	file := filepath.Join(t.TempDir(), "pw")
	users := []struct{ name, pw, algo string }{
		{"u7", "pass word 7", ""},
		{"u6", "pass word 6", "sha512"},
		{"ünï", "ünïcödé ✓", ""},
	}
	for i, u := range users {
		args := []string{"-b"}
		if i == 0 {
			args = []string{"-c", "-b"}
		}
		if u.algo != "" {
			args = append([]string{"-H", u.algo}, args...)
		}
		out, err := exec.Command(bin, append(args, file, u.name, u.pw)...).CombinedOutput()
		if err != nil {
			t.Fatalf("mosquitto_passwd: %v: %s", err, out)
		}
	}
	// A user added by our own tool must coexist in mosquitto's file.
	if rc := PasswdMain([]string{"-b", file, "ours", "our pw"}, nil, &strings.Builder{}, &strings.Builder{}); rc != 0 {
		t.Fatalf("PasswdMain rc=%d", rc)
	}
	a, err := New(Options{PasswordFile: file})
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("127.0.0.1")
	for _, u := range append(users, struct{ name, pw, algo string }{"ours", "our pw", ""}) {
		if rc := a.Login(ip, []byte(u.name), []byte(u.pw), true, true, -1); rc != codec.Success {
			t.Errorf("%s: Login = %#x", u.name, rc)
		}
		if rc := a.Login(ip, []byte(u.name), []byte(u.pw+"!"), true, true, -1); rc != codec.BadUsernameOrPassword {
			t.Errorf("%s: wrong password Login = %#x", u.name, rc)
		}
	}
	// mosquitto_passwd must accept the file our tool rewrote (delete our user).
	if out, err := exec.Command(bin, "-D", file, "ours").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd -D on our file: %v: %s", err, out)
	}
}
