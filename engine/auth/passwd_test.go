package auth

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tsubame-mq/tsubame/codec"
)

func runPasswd(t *testing.T, stdin string, args ...string) (int, string) {
	t.Helper()
	var out, errOut strings.Builder
	rc := PasswdMain(args, strings.NewReader(stdin), &out, &errOut)
	return rc, errOut.String()
}

func loginOK(t *testing.T, file, user, pw string) bool {
	t.Helper()
	a, err := New(Options{PasswordFile: file})
	if err != nil {
		t.Fatal(err)
	}
	return a.Login(netip.MustParseAddr("127.0.0.1"), []byte(user), []byte(pw), true, true, -1) == codec.Success
}

func TestPasswdCreateBatch(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	if rc, e := runPasswd(t, "", "-c", "-b", file, "alice", "pw one"); rc != 0 {
		t.Fatalf("rc=%d %s", rc, e)
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", st.Mode(), err)
	}
	if !loginOK(t, file, "alice", "pw one") {
		t.Error("created user cannot log in")
	}
	// -c overwrites.
	if rc, e := runPasswd(t, "", "-cb", file, "bob", "pw two"); rc != 0 {
		t.Fatalf("rc=%d %s", rc, e)
	}
	if loginOK(t, file, "alice", "pw one") || !loginOK(t, file, "bob", "pw two") {
		t.Error("-c did not overwrite")
	}
}

func TestPasswdUpdateKeepsOtherLines(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	orig, _ := os.ReadFile("testdata/mosquitto.passwd")
	writeFile(t, file, "# managed by hand\n"+string(orig))
	if rc, e := runPasswd(t, "", "-b", file, "bob", "new pw"); rc != 0 {
		t.Fatalf("rc=%d %s", rc, e)
	}
	if rc, e := runPasswd(t, "", "-b", file, "dave", "dave pw"); rc != 0 {
		t.Fatalf("rc=%d %s", rc, e)
	}
	data, _ := os.ReadFile(file)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	origLines := strings.Split(strings.TrimSpace(string(orig)), "\n")
	if len(lines) != 5 || lines[0] != "# managed by hand" || lines[1] != origLines[0] || lines[3] != origLines[2] ||
		!strings.HasPrefix(lines[2], "bob:$7$") || lines[2] == origLines[1] || !strings.HasPrefix(lines[4], "dave:$7$") {
		t.Fatalf("file not updated in place:\n%s", data)
	}
	if !loginOK(t, file, "bob", "new pw") || loginOK(t, file, "bob", "hunter2") || !loginOK(t, file, "alice", "s3cret pass") || !loginOK(t, file, "dave", "dave pw") {
		t.Error("logins after update wrong")
	}
}

func TestPasswdDelete(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	orig, _ := os.ReadFile("testdata/mosquitto.passwd")
	writeFile(t, file, string(orig))
	if rc, e := runPasswd(t, "", "-D", file, "bob"); rc != 0 {
		t.Fatalf("rc=%d %s", rc, e)
	}
	data, _ := os.ReadFile(file)
	if strings.Contains(string(data), "bob:") || !strings.Contains(string(data), "alice:") || !strings.Contains(string(data), "carol:") {
		t.Fatalf("delete wrong:\n%s", data)
	}
	if rc, e := runPasswd(t, "", "-D", file, "bob"); rc != 1 || !strings.Contains(e, "not found") {
		t.Errorf("deleting a missing user: rc=%d %q", rc, e)
	}
}

func TestPasswdPrompt(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	if rc, e := runPasswd(t, "typed pw\ntyped pw\n", "-c", file, "eve"); rc != 0 {
		t.Fatalf("rc=%d %s", rc, e)
	}
	if !loginOK(t, file, "eve", "typed pw") {
		t.Error("prompted password not stored")
	}
	before, _ := os.ReadFile(file)
	rc, e := runPasswd(t, "one\ntwo\n", file, "eve")
	if rc != 1 || !strings.Contains(e, "do not match") {
		t.Errorf("mismatch: rc=%d %q", rc, e)
	}
	after, _ := os.ReadFile(file)
	if string(before) != string(after) {
		t.Error("file changed after a mismatch")
	}
	if rc, e := runPasswd(t, "only one line\n", file, "eve"); rc != 1 || !strings.Contains(e, "reading password") {
		t.Errorf("short stdin: rc=%d %q", rc, e)
	}
	if rc, e := runPasswd(t, "\n\n", file, "eve"); rc != 1 || !strings.Contains(e, "empty password") {
		t.Errorf("empty password: rc=%d %q", rc, e)
	}
}

func TestPasswdErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	tests := []struct {
		name   string
		args   []string
		rc     int
		expect string
	}{
		{"no args", nil, 2, "want FILE USER"},
		{"unknown flag", []string{"-x", file, "u"}, 2, "unknown option -x"},
		{"c and D", []string{"-c", "-D", file, "u"}, 2, "cannot be used together"},
		{"D and b", []string{"-D", "-b", file, "u", "p"}, 2, "-D takes no password"},
		{"b without password", []string{"-b", file, "u"}, 2, "-b wants"},
		{"missing file without -c", []string{"-b", filepath.Join(dir, "nope"), "u", "p"}, 1, "use -c"},
		{"colon in username", []string{"-c", "-b", file, "a:b", "p"}, 1, "':'"},
		{"control char in username", []string{"-c", "-b", file, "a\nb", "p"}, 1, "control"},
		{"comment-like username", []string{"-c", "-b", file, "#x", "p"}, 1, "'#'"},
		{"empty batch password", []string{"-c", "-b", file, "u", ""}, 1, "empty password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, e := runPasswd(t, "", tt.args...)
			if rc != tt.rc || !strings.Contains(e, tt.expect) {
				t.Errorf("rc=%d stderr=%q, want rc=%d containing %q", rc, e, tt.rc, tt.expect)
			}
		})
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Error("a failed command created the file")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}
