package adminlive

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.golang/paho"
)

const chromiumPath = "/usr/bin/chromium"

// playwrightDir is the node project whose node_modules holds
// playwright-core: engine/e2e/browser (tools/e2e-deps.sh installs it), or
// TSUBAME_PLAYWRIGHT_DIR for a local install elsewhere.
func playwrightDir(t *testing.T) string {
	if d := os.Getenv("TSUBAME_PLAYWRIGHT_DIR"); d != "" {
		return d
	}
	d, err := filepath.Abs(filepath.Join("..", "e2e", "browser"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// needBrowser skips, saying what is missing, unless node, Chromium and
// playwright-core are installed.
func needBrowser(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped with -short")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no Chromium at %s (apt-get install chromium, or tools/e2e-deps.sh): %v", chromiumPath, err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed (tools/e2e-deps.sh)")
	}
	dir := playwrightDir(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core", "package.json")); err != nil {
		t.Skipf("playwright-core not installed under %s/node_modules (run tools/e2e-deps.sh): %v", dir, err)
	}
	return dir
}

// consoleSeen is what console.mjs read from the console's DOM.
type consoleSeen struct {
	Cards     map[string]string `json:"cards"`
	Listeners [][]string        `json:"listeners"`
	Clients   [][]string        `json:"clients"`
	Topics    [][]string        `json:"topics"`
}

// rowsBy indexes table rows by their first cell.
func rowsBy(rows [][]string) map[string][]string {
	m := make(map[string][]string, len(rows))
	for _, r := range rows {
		if len(r) > 0 {
			m[r[0]] = r
		}
	}
	return m
}

// TestConsoleInBrowser loads the admin console in headless Chromium while
// MQTT 3.1, 3.1.1 (over WebSocket) and 5.0 clients are connected and
// traffic flows, and checks that what the page shows matches what the
// clients did: listeners and their connection counts, the client list with
// protocol and listener per client, topic filters with subscriber counts
// (a shared group among them). It then kicks a v5 client with the row's
// kick button: the client must get DISCONNECT 0x98 and leave the list. The
// screenshots land in the test's temp folder; with TSUBAME_SCREENSHOT_OUT
// set, the overview screenshot is also copied to that file (this is how
// engine/admin/console.png is made).
func TestConsoleInBrowser(t *testing.T) {
	pwDir := needBrowser(t)
	l := startBroker(t, nil)

	d31 := connect3(t, v3Options("tcp://"+l.tcp, "dash-31", 3, true))
	d31.sub(t, "sensors/+/temp", 0)
	d311 := connect3(t, v3Options("ws://"+l.ws+"/mqtt", "dash-311", 4, true).SetUsername("alice"))
	d311.sub(t, "sensors/+/temp", 1)
	d311.sub(t, "jobs/#", 1)
	for _, id := range []string{"worker-1", "worker-2"} {
		connect5(t, l.tcp, id, "", true, 0).sub(t, "$share/workers/jobs/#", 1)
	}
	sensor := connect5(t, l.tcp, "sensor-5", "bob", true, 0)
	sensor.pub(t, "status/sensor-5", 1, true, "online")
	victim := connect5(t, l.tcp, "kick-me", "", true, 0)
	victim.sub(t, "alerts/#", 0)
	connected := map[string][2]string{ // id -> MQTT version shown, listener
		"dash-31": {"3.1", "tcp"}, "dash-311": {"3.1.1", "ws"}, "worker-1": {"5.0", "tcp"},
		"worker-2": {"5.0", "tcp"}, "sensor-5": {"5.0", "tcp"}, "kick-me": {"5.0", "tcp"},
	}

	// Traffic while the page is open, at a rate that changes every
	// second so the chart has a shape.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var published, failed int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			sec := time.Now().Unix()
			perSec := 20 + 15*int(sec%4)
			p := &paho.Publish{Topic: fmt.Sprintf("sensors/%d/temp", i%4), Payload: []byte(fmt.Sprintf("%d.%d", 20+i%7, i%10))}
			if i%10 == 0 {
				p = &paho.Publish{Topic: "jobs/build", QoS: 1, Payload: []byte("job")}
			}
			pctx, cancel := context.WithTimeout(ctx, waitShort)
			if _, err := sensor.c.Publish(pctx, p); err != nil {
				failed++
			} else {
				published++
			}
			cancel()
			time.Sleep(time.Second / time.Duration(perSec))
		}
	}()
	defer func() { stop(); wg.Wait() }()

	shots := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{
		"url": l.admin + "/", "chromium": chromiumPath, "playwrightDir": pwDir,
		"kick": "kick-me", "clients": len(connected), "screenshotDir": shots,
		"settleMs": 6000, "timeoutMs": 30000,
	})
	rctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(rctx, "node", filepath.Join("testdata", "console.mjs"))
	cmd.Env = append(os.Environ(), "CONSOLE_CONFIG="+string(cfg))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("node: %v", err)
	}
	lines := map[string]string{}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok {
			lines[k] = v
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("console.mjs: %v\n%s", err, stderr.String())
	}
	stop()
	wg.Wait()
	if published == 0 || failed > 0 {
		t.Errorf("background traffic: %d published, %d failed", published, failed)
	}

	var seen consoleSeen
	if err := json.Unmarshal([]byte(lines["SEEN"]), &seen); err != nil {
		t.Fatalf("SEEN line: %v: %q\n%s", err, lines["SEEN"], stderr.String())
	}

	// Overview cards.
	for k, want := range map[string]string{"Connections": "6", "Max connections": "6", "Sessions": "6", "Subscriptions": "6", "Retained": "1"} {
		if got := seen.Cards[k]; got != want {
			t.Errorf("overview card %q = %q, want %q (all cards: %v)", k, got, want, seen.Cards)
		}
	}
	if seen.Cards["Received"] == "0" || seen.Cards["Sent"] == "0" {
		t.Errorf("overview shows no traffic: %v", seen.Cards)
	}

	// Connectors: name, type, address, TLS, live, total.
	lis := rowsBy(seen.Listeners)
	for name, want := range map[string][]string{
		"tcp": {"tcp", "tcp", l.tcp, "no", "5", "5"},
		"ws":  {"ws", "ws", l.ws, "no", "1", "1"},
	} {
		if got := lis[name]; len(got) < 6 || !slices.Equal(got[:6], want) {
			t.Errorf("listener row %s = %q, want %q", name, got, want)
		}
	}
	if len(seen.Listeners) != 2 {
		t.Errorf("listener rows %q, want 2", seen.Listeners)
	}

	// Clients: id, user, address, listener, MQTT, keepalive, ...
	cl := rowsBy(seen.Clients)
	if len(seen.Clients) != len(connected) {
		t.Errorf("client rows %d, want %d: %q", len(seen.Clients), len(connected), seen.Clients)
	}
	for id, want := range connected {
		r := cl[id]
		if len(r) < 14 || r[3] != want[1] || r[4] != want[0] || r[5] != "30s" || !strings.HasPrefix(r[2], "127.0.0.1:") || r[13] != "kick" {
			t.Errorf("client row %s = %q, want listener %s, MQTT %s, keepalive 30s, a loopback address and a kick button", id, r, want[1], want[0])
		}
	}
	if r := cl["dash-311"]; len(r) > 8 && (r[1] != "alice" || r[8] != "2") {
		t.Errorf("client row dash-311 = %q, want user alice and 2 subscriptions", r)
	}

	// Topics: filter (shared shown as $share/group/filter), group, subscribers, consumers.
	tp := rowsBy(seen.Topics)
	for filter, want := range map[string][]string{
		"sensors/+/temp":        {"sensors/+/temp", "-", "2", "dash-31, dash-311"},
		"jobs/#":                {"jobs/#", "-", "1", "dash-311"},
		"$share/workers/jobs/#": {"$share/workers/jobs/#", "workers", "2", "worker-1, worker-2"},
		"alerts/#":              {"alerts/#", "-", "1", "kick-me"},
	} {
		if got := tp[filter]; !slices.Equal(got, want) {
			t.Errorf("topic row %s = %q, want %q", filter, got, want)
		}
	}
	if len(seen.Topics) != 4 {
		t.Errorf("topic rows %q, want 4", seen.Topics)
	}

	// The kick button.
	var kicked struct {
		Status  string     `json:"status"`
		Clients [][]string `json:"clients"`
	}
	if err := json.Unmarshal([]byte(lines["KICKED"]), &kicked); err != nil {
		t.Fatalf("KICKED line: %v: %q", err, lines["KICKED"])
	}
	if kicked.Status != "kicked kick-me" {
		t.Errorf("status after kick = %q, want %q", kicked.Status, "kicked kick-me")
	}
	if _, still := rowsBy(kicked.Clients)["kick-me"]; still {
		t.Errorf("kick-me still listed after the kick: %q", kicked.Clients)
	}
	select {
	case d := <-victim.server:
		if d.ReasonCode != 0x98 {
			t.Errorf("kicked client got DISCONNECT 0x%02x, want 0x98", d.ReasonCode)
		}
	case <-time.After(waitShort):
		t.Error("kicked client got no DISCONNECT")
	}
	if o := l.overview(t); o.Connections != 5 {
		t.Errorf("connections after the kick = %d, want 5", o.Connections)
	}
	if st, _ := l.do(t, http.MethodDelete, "/api/v1/clients/kick-me"); st != http.StatusNotFound {
		t.Errorf("kick-me still kickable (status %d): not disconnected", st)
	}

	// Screenshots.
	for _, name := range []string{"overview.png", "clients.png", "topics.png"} {
		b, err := os.ReadFile(filepath.Join(shots, name))
		if err != nil || len(b) < 10<<10 || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("screenshot %s: %d bytes, err %v", name, len(b), err)
		}
	}
	t.Logf("screenshots in %s", shots)
	if dst := os.Getenv("TSUBAME_SCREENSHOT_OUT"); dst != "" {
		b, err := os.ReadFile(filepath.Join(shots, "overview.png"))
		if err == nil {
			err = os.WriteFile(dst, b, 0o644)
		}
		if err != nil {
			t.Errorf("copying the screenshot to TSUBAME_SCREENSHOT_OUT: %v", err)
		}
	}
}
