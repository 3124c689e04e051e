//go:build unix

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/engine/config"
)

// Paths relative to this package directory (go test runs tests there).
const (
	browserDir   = "browser"
	tutorialPage = "../../tools/tutorial/index.html"
)

// chromiumPath is the system Chromium (Debian's chromium package); the
// tests never download a browser. E2E_CHROMIUM overrides it.
func chromiumPath() string {
	if p := os.Getenv("E2E_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// needBrowser skips the test unless Chromium, node and the npm packages
// are installed (tools/e2e-deps.sh installs all three).
func needBrowser(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests are slow; skipped with -short")
	}
	if _, err := os.Stat(chromiumPath()); err != nil {
		t.Skipf("no Chromium at %s (run tools/e2e-deps.sh): %v", chromiumPath(), err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed (run tools/e2e-deps.sh)")
	}
	for _, p := range []string{"playwright-core/package.json", "paho-mqtt/paho-mqtt.js", "mqtt/dist/mqtt.min.js"} {
		if _, err := os.Stat(filepath.Join(browserDir, "node_modules", p)); err != nil {
			t.Skipf("%s/node_modules incomplete (run tools/e2e-deps.sh): %v", browserDir, err)
		}
	}
}

// pageServer serves the tutorial page with paho-mqtt.js next to it, as the
// README tells users to lay them out, plus the mqtt.js page.
func pageServer(t *testing.T) *httptest.Server {
	t.Helper()
	files := map[string]string{
		"/index.html":   tutorialPage,
		"/paho-mqtt.js": filepath.Join(browserDir, "node_modules/paho-mqtt/paho-mqtt.js"),
		"/mqttjs.html":  filepath.Join(browserDir, "mqttjs.html"),
		"/mqtt.min.js":  filepath.Join(browserDir, "node_modules/mqtt/dist/mqtt.min.js"),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		// Not http.ServeFile: it redirects ".../index.html" to "./".
		fh, err := os.Open(f)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer fh.Close()
		http.ServeContent(w, r, filepath.Base(f), time.Time{}, fh)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// browserRun is one run of browser/run.mjs.
type browserRun struct {
	pages    []string // page URLs, each opened in its own browser context
	args     []string // extra Chromium flags
	want     string   // state every page must reach: "subscribed" or "failed"
	count    int      // messages each page must receive
	settleMs int
}

type pageState struct {
	State    string `json:"state"`
	Text     string `json:"text"`
	Messages []struct {
		Topic   string `json:"topic"`
		Payload string `json:"payload"`
	} `json:"messages"`
}

// run starts the runner, calls publish once every page is in its final
// state, and returns each page's state afterwards. Chromium runs in the
// runner's process group, which is killed if the test times out, so no
// browser outlives the test.
func (r browserRun) run(t *testing.T, publish func()) []pageState {
	t.Helper()
	cfg, _ := json.Marshal(map[string]any{
		"chromium": chromiumPath(), "args": r.args, "pages": r.pages, "want": r.want,
		"count": r.count, "settleMs": r.settleMs, "timeoutMs": 45000,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "run.mjs")
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(), "E2E_CONFIG="+string(cfg))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("run.mjs: %v\n%s", err, stderr.String())
		}
	}()
	lines := bufio.NewScanner(stdout)
	lines.Buffer(nil, 1<<20)
	next := func(prefix string) []pageState {
		for lines.Scan() {
			if rest, ok := strings.CutPrefix(lines.Text(), prefix+" "); ok {
				var ps []pageState
				if err := json.Unmarshal([]byte(rest), &ps); err != nil {
					t.Fatalf("run.mjs %s: %v", prefix, err)
				}
				return ps
			}
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("run.mjs ended before %s: %v\n%s", prefix, lines.Err(), stderr.String())
		return nil
	}
	ready := next("READY")
	for i, p := range ready {
		if p.State != r.want {
			t.Errorf("page %d: state %q (%s), want %q", i, p.State, p.Text, r.want)
		}
	}
	publish()
	if _, err := io.WriteString(stdin, "published\n"); err != nil {
		t.Fatal(err)
	}
	res := next("RESULT")
	if os.Getenv("E2E_VERBOSE") != "" {
		t.Logf("runner stderr:\n%s", stderr.String())
	}
	return res
}

func pageURL(srv *httptest.Server, page, broker, user, pass string) string {
	q := url.Values{"url": {broker}, "user": {user}, "password": {pass}, "topic": {tutorialTopic}, "connect": {"1"}}
	return srv.URL + "/" + page + "?" + q.Encode()
}

// checkTutorialPages checks that every page shows exactly the tutorial message.
func checkTutorialPages(t *testing.T, res []pageState, n int) {
	t.Helper()
	if len(res) != n {
		t.Fatalf("%d page results, want %d", len(res), n)
	}
	for i, p := range res {
		if len(p.Messages) != 1 || p.Messages[0].Topic != tutorialTopic || p.Messages[0].Payload != tutorialMessage {
			t.Errorf("page %d (%s) shows %+v, want exactly %q on %q", i, p.Text, p.Messages, tutorialMessage, tutorialTopic)
		}
	}
}

// TestBrowserTutorial is the scenario: two browsers (separate
// Chromium contexts) load a page with an MQTT client, connect over
// WebSocket as admin and subscribe to /testtopic; a publisher sends the
// message with QoS 1 over TCP; both pages show exactly that message.
func TestBrowserTutorial(t *testing.T) {
	needBrowser(t)
	srv := pageServer(t)
	pki := newPKI(t)
	for _, tc := range []struct {
		name, page, scheme string
	}{
		{"paho-ws", "index.html", "ws"},
		{"mqttjs-ws", "mqttjs.html", "ws"},
		{"paho-wss", "index.html", "wss"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tutorialBroker(t, config.Listener{Type: config.TypeWSS, Path: "/mqtt", Cert: pki.certFile, Key: pki.keyFile})
			broker := "ws://" + a.ws + "/mqtt"
			var args []string
			if tc.scheme == "wss" {
				broker = "wss://" + a.wss + "/mqtt"
				// Trust exactly the certificate this test made, nothing else.
				args = []string{"--ignore-certificate-errors-spki-list=" + pki.spki()}
			}
			u := pageURL(srv, tc.page, broker, tutorialUser, tutorialPassword)
			res := browserRun{pages: []string{u, u}, args: args, want: "subscribed", count: 1, settleMs: 500}.
				run(t, func() { publishTutorial(t, a.tcp) })
			checkTutorialPages(t, res, 2)
		})
	}
}

// TestBrowserRefused: a page with a wrong password, an unknown user or no
// credentials is refused with the right CONNACK code and shows nothing.
func TestBrowserRefused(t *testing.T) {
	needBrowser(t)
	srv := pageServer(t)
	a := tutorialBroker(t)
	broker := "ws://" + a.ws + "/mqtt"
	pages := []string{
		pageURL(srv, "index.html", broker, tutorialUser, "wrong"),      // 3.1.1: 4 bad user name or password
		pageURL(srv, "index.html", broker, "nobody", tutorialPassword), // 3.1.1: 4
		pageURL(srv, "index.html", broker, "", ""),                     // 3.1.1: 5 not authorized
		pageURL(srv, "mqttjs.html", broker, tutorialUser, "wrong"),     // 5.0: 0x86 = 134
		pageURL(srv, "mqttjs.html", broker, "", ""),                    // 5.0: 0x87 = 135
	}
	wantCode := []string{"return code:4", "return code:4", "return code:5", "code 134", "code 135"}
	res := browserRun{pages: pages, want: "failed", settleMs: 700}.run(t, func() { publishTutorial(t, a.tcp) })
	for i, p := range res {
		if p.State != "failed" || !strings.Contains(p.Text, wantCode[i]) {
			t.Errorf("page %d: %s %q, want failed with %q", i, p.State, p.Text, wantCode[i])
		}
		if len(p.Messages) != 0 {
			t.Errorf("page %d received %v", i, p.Messages)
		}
	}
}
