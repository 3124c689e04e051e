package interop

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// mosqVersions are the -V values of mosquitto_pub and mosquitto_sub.
var mosqVersions = []string{"mqttv31", "mqttv311", "mqttv5"}

// needMosquitto skips the test when mosquitto-clients is not installed.
func needMosquitto(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"mosquitto_pub", "mosquitto_sub"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not found (Debian package mosquitto-clients; tools/test.sh installs it)", bin)
		}
	}
	if _, err := exec.LookPath("stdbuf"); err != nil {
		t.Skip("stdbuf not found (Debian package coreutils), needed to read mosquitto_sub output line by line")
	}
}

// mosqSub is a running mosquitto_sub. Its -d debug lines tell when the
// subscription is acknowledged; received messages are the lines printed by
// -F with the "MSG " prefix.
type mosqSub struct {
	cmd    *exec.Cmd
	got    *collector
	subbed chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	debug  []string
}

// mosqSubFormat prints one message per line: QoS, retain, topic, payload,
// and (MQTT 5 only, empty otherwise) subscription id and user properties.
const mosqSubFormat = "MSG q=%q r=%r %t %p|%S|%P"

// startMosqSub runs mosquitto_sub against addr with args (besides host,
// port, -d and -F) and waits for its SUBACK.
func startMosqSub(t *testing.T, addr string, args ...string) *mosqSub {
	t.Helper()
	host, port := hostPort(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	full := append([]string{"-h", host, "-p", port, "-d", "-F", mosqSubFormat}, args...)
	// stdbuf -oL: mosquitto_sub's debug lines go through stdio, which a pipe
	// would buffer until exit, hiding the SUBACK we wait for.
	full = append([]string{"-oL", "mosquitto_sub"}, full...)
	s := &mosqSub{cmd: exec.CommandContext(ctx, "stdbuf", full...), got: newCollector(),
		subbed: make(chan struct{}), done: make(chan struct{})}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.cmd.Stdout
	if err := s.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("mosquitto_sub: %v", err)
	}
	go func() {
		defer close(s.done)
		var once sync.Once
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if m, ok := strings.CutPrefix(line, "MSG "); ok {
				s.got.add(m)
				continue
			}
			s.mu.Lock()
			s.debug = append(s.debug, line)
			s.mu.Unlock()
			if strings.Contains(line, "received SUBACK") {
				once.Do(func() { close(s.subbed) })
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done
		_ = s.cmd.Wait()
	})
	select {
	case <-s.subbed:
	case <-s.done:
		t.Fatalf("mosquitto_sub %v exited before SUBACK:\n%s", args, s.log())
	case <-time.After(waitShort):
		t.Fatalf("mosquitto_sub %v: no SUBACK within %v:\n%s", args, waitShort, s.log())
	}
	return s
}

func (s *mosqSub) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.debug, "\n")
}

// wait waits for mosquitto_sub to exit by itself (-C or -E) and fails the
// test if it does not within waitLong.
func (s *mosqSub) wait(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(waitLong):
		t.Fatalf("mosquitto_sub did not exit:\n%s", s.log())
	}
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("mosquitto_sub: %v\n%s", err, s.log())
	}
}

// mosqPub runs mosquitto_pub to completion; stdin, when not empty, is sent
// with -l (one message per line, in order).
func mosqPub(t *testing.T, addr, stdin string, args ...string) {
	t.Helper()
	host, port := hostPort(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	cmd := exec.CommandContext(ctx, "mosquitto_pub", append([]string{"-h", host, "-p", port}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub %v: %v\n%s", args, err, out)
	}
}

// TestMosquittoRoundTrip sends a numbered batch with mosquitto_pub -l at
// each QoS and version; mosquitto_sub must print every message once, in
// order [MQTT-4.6.0-6]. With MQTT 5 the subscription carries an identifier
// [MQTT-3.3.4-3] and each message a user property [MQTT-3.3.2-17].
func TestMosquittoRoundTrip(t *testing.T) {
	needMosquitto(t)
	t.Parallel()
	addr := startBroker(t)
	for _, v := range mosqVersions {
		for qos := 0; qos <= 2; qos++ {
			t.Run(v+"/qos="+itoa(qos), func(t *testing.T) {
				topic := uniqueTopic("mosq-rt")
				q := itoa(qos)
				subArgs := []string{"-V", v, "-q", q, "-t", topic, "-C", itoa(msgCount)}
				pubArgs := []string{"-V", v, "-q", q, "-t", topic, "-l"}
				suffix := "||"
				if v == "mqttv5" {
					subArgs = append(subArgs, "-D", "subscribe", "subscription-identifier", "5")
					pubArgs = append(pubArgs, "-D", "publish", "user-property", "client", "mosquitto_pub")
					suffix = "|5|client:mosquitto_pub"
				}
				sub := startMosqSub(t, addr, subArgs...)
				want := payloads(msgCount)
				mosqPub(t, addr, strings.Join(want, "\n")+"\n", pubArgs...)
				sub.wait(t)
				for i, p := range want {
					want[i] = fmt.Sprintf("q=%d r=0 %s %s%s", qos, topic, p, suffix)
				}
				checkBatch(t, sub.got.wait(len(want), waitShort), want)
			})
		}
	}
}

// TestMosquittoRetained publishes with -r and checks a later mosquitto_sub
// gets the message with its retain flag [MQTT-3.3.1-6] [MQTT-3.3.1-8];
// publishing -r -n (empty) reaches it with retain 0 [MQTT-3.3.1-9] and
// clears the topic [MQTT-3.3.1-10].
func TestMosquittoRetained(t *testing.T) {
	needMosquitto(t)
	t.Parallel()
	addr := startBroker(t)
	for _, v := range mosqVersions {
		for qos := 0; qos <= 2; qos++ {
			t.Run(v+"/qos="+itoa(qos), func(t *testing.T) {
				topic := uniqueTopic("mosq-ret")
				q := itoa(qos)
				mosqPub(t, addr, "", "-V", v, "-q", q, "-t", topic, "-r", "-m", "kept")
				sub := startMosqSub(t, addr, "-V", v, "-q", q, "-t", topic, "-C", "2")
				checkBatch(t, sub.got.wait(1, waitShort), []string{fmt.Sprintf("q=%d r=1 %s kept||", qos, topic)}) // [MQTT-3.3.1-6] [MQTT-3.3.1-8]

				// The established subscriber gets the clearing message with retain
				// 0 [MQTT-3.3.1-9]; once it has, the broker has surely processed it.
				mosqPub(t, addr, "", "-V", v, "-q", q, "-t", topic, "-r", "-n")
				sub.wait(t)
				checkBatch(t, sub.got.wait(2, waitShort), []string{
					fmt.Sprintf("q=%d r=1 %s kept||", qos, topic),
					fmt.Sprintf("q=%d r=0 %s ||", qos, topic),
				})
				late := startMosqSub(t, addr, "-V", v, "-q", q, "-t", topic)
				if got := late.got.wait(1, 300*time.Millisecond); len(got) != 0 {
					t.Fatalf("retained message not cleared by -r -n: %q [MQTT-3.3.1-10]", got)
				}
			})
		}
	}
}

// TestMosquittoWill kills a mosquitto_sub that has a will (no DISCONNECT
// sent) and checks the will is published [MQTT-3.1.2-8]; one that exits
// normally (-E) must not publish its will [MQTT-3.1.2-10].
func TestMosquittoWill(t *testing.T) {
	needMosquitto(t)
	t.Parallel()
	addr := startBroker(t)
	for _, v := range mosqVersions {
		for qos := 0; qos <= 2; qos++ {
			t.Run(v+"/qos="+itoa(qos), func(t *testing.T) {
				topic := uniqueTopic("mosq-will")
				q := itoa(qos)
				watcher := startMosqSub(t, addr, "-V", v, "-q", q, "-t", topic)

				polite := startMosqSub(t, addr, "-V", v, "-t", topic+"/x", "-E",
					"--will-topic", topic, "--will-payload", "polite", "--will-qos", q)
				polite.wait(t)

				rude := startMosqSub(t, addr, "-V", v, "-t", topic+"/x",
					"--will-topic", topic, "--will-payload", "gone", "--will-qos", q)
				if err := rude.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatalf("kill mosquitto_sub: %v", err)
				}
				want := fmt.Sprintf("q=%d r=0 %s gone||", qos, topic)
				checkBatch(t, watcher.got.wait(1, waitShort), []string{want}) // [MQTT-3.1.2-8] [MQTT-3.1.2-10]
				if got := watcher.got.wait(2, 200*time.Millisecond); len(got) != 1 {
					t.Fatalf("got %q, want only the will of the killed client", got)
				}
			})
		}
	}
}

// TestMosquittoSessionResume subscribes with -c -i id and exits (-E), lets a
// batch be published, and reconnects with the same id: the queued batch must
// arrive in order [MQTT-3.1.2-4].
func TestMosquittoSessionResume(t *testing.T) {
	needMosquitto(t)
	t.Parallel()
	addr := startBroker(t)
	for _, v := range mosqVersions {
		for qos := 1; qos <= 2; qos++ {
			t.Run(v+"/qos="+itoa(qos), func(t *testing.T) {
				topic := uniqueTopic("mosq-sess")
				id := uniqueID("ms")
				q := itoa(qos)
				session := []string{"-V", v, "-q", q, "-t", topic, "-c", "-i", id}
				if v == "mqttv5" {
					session = append(session, "-x", "60")
				}
				first := startMosqSub(t, addr, append(session, "-E")...)
				first.wait(t)

				want := payloads(msgCount)
				mosqPub(t, addr, strings.Join(want, "\n")+"\n", "-V", v, "-q", q, "-t", topic, "-l")

				again := startMosqSub(t, addr, append(session, "-C", itoa(msgCount))...)
				again.wait(t)
				for i, p := range want {
					want[i] = fmt.Sprintf("q=%d r=0 %s %s||", qos, topic, p)
				}
				checkBatch(t, again.got.wait(len(want), waitShort), want) // [MQTT-3.1.2-4]
			})
		}
	}
}
