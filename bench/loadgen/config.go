package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// Scenarios.
const (
	scConn   = "conn"
	scPub    = "pub"
	scSub    = "sub"
	scFanin  = "fanin"
	scFanout = "fanout"
	scP2P    = "p2p"
	scWild   = "wild"
)

var scenarios = []string{scConn, scPub, scSub, scFanin, scFanout, scP2P, scWild}

// stampSize is the payload prefix every message carries: stream id (uint32),
// sequence (uint64), send time in unix ns (int64), big-endian.
const stampSize = 20

var (
	errHelp     = errors.New("help requested")
	errUsage    = errors.New("usage")
	errFDLimit  = errors.New("open-files limit too low")
	errSetup    = errors.New("connection setup failed")
	errLost     = errors.New("QoS 1/2 messages lost")
	errQoS2Dup  = errors.New("QoS 2 messages duplicated")
	errProtocol = errors.New("broker protocol error")
)

// Config is one run, from the command line.
type Config struct {
	Scenario    string
	Addr        string
	Transport   string // tcp | ws
	WSPath      string
	Version     byte
	QoS         byte
	Size        int
	Rate        float64 // msgs/s per publisher; 0 = as fast as possible
	Inflight    int
	Duration    time.Duration
	Warmup      time.Duration
	Drain       time.Duration
	Pubs        int
	Subs        int
	Pairs       int
	Conns       int
	ConnRate    float64
	Username    string
	Password    string
	PID         int
	JSON        bool
	Topic       string
	SharedTopic bool
	Clean       bool
	KeepAlive   int
	MaxConns    int
	Count       uint64 // messages per publisher stream, then stop; 0 = until -duration ends
	IDBase      uint
	ClientID    string
}

func parseConfig(args []string, stderr io.Writer) (*Config, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fmt.Fprintf(stderr, "usage: loadgen SCENARIO [flags]\nSCENARIO: %s\n", strings.Join(scenarios, " | "))
			newFlagSet(&Config{}, stderr).PrintDefaults()
			return nil, errHelp
		}
		return nil, fmt.Errorf("%w: loadgen SCENARIO [flags]; SCENARIO is one of %s", errUsage, strings.Join(scenarios, ", "))
	}
	c := &Config{Scenario: args[0]}
	fs := newFlagSet(c, stderr)
	var v, qos uint
	fs.UintVar(&v, "v", 4, "MQTT protocol level: 3 (3.1), 4 (3.1.1) or 5 (5.0)")
	fs.UintVar(&qos, "qos", 0, "QoS of publishes and subscriptions: 0, 1 or 2")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q (flags go after the scenario)", errUsage, fs.Arg(0))
	}
	if v < 3 || v > 5 {
		return nil, fmt.Errorf("%w: -v %d: protocol level must be 3, 4 or 5", errUsage, v)
	}
	if qos > 2 {
		return nil, fmt.Errorf("%w: -qos %d: QoS must be 0, 1 or 2", errUsage, qos)
	}
	c.Version, c.QoS = byte(v), byte(qos)
	return c, c.validate()
}

func newFlagSet(c *Config, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:1883", "broker host:port")
	fs.StringVar(&c.Transport, "transport", "tcp", "tcp or ws (WebSocket, ws://addr/ws-path)")
	fs.StringVar(&c.WSPath, "ws-path", "/mqtt", "WebSocket request path")
	fs.IntVar(&c.Size, "size", 64, "payload bytes (at least 20: stream id, sequence, send time)")
	fs.Float64Var(&c.Rate, "rate", 0, "messages/s per publisher, open loop; 0 = as fast as the inflight window and socket allow")
	fs.IntVar(&c.Inflight, "inflight", 20, "QoS 1/2 unacknowledged messages per publisher (1..65535)")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "measured time (conn: time the connections are held)")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "load before measuring; not counted in rates or latency")
	fs.DurationVar(&c.Drain, "drain", 5*time.Second, "after publishers stop, how long to wait for in-flight messages")
	fs.IntVar(&c.Pubs, "pubs", 1, "publishers (pub, fanin, wild)")
	fs.IntVar(&c.Subs, "subs", 1, "subscribers (sub, fanout, wild)")
	fs.IntVar(&c.Pairs, "pairs", 1, "publisher/subscriber pairs (p2p)")
	fs.IntVar(&c.Conns, "conns", 1000, "connections (conn)")
	fs.Float64Var(&c.ConnRate, "conn-rate", 0, "connections opened per second; 0 = as fast as possible")
	fs.StringVar(&c.Username, "u", "", "user name")
	fs.StringVar(&c.Password, "P", "", "password")
	fs.IntVar(&c.PID, "pid", 0, "broker pid: report its CPU per delivered message and RSS from /proc")
	fs.BoolVar(&c.JSON, "json", false, "print one JSON object on stdout at the end (progress stays on stderr)")
	fs.StringVar(&c.Topic, "topic", "bench", "topic prefix (pub: publish topic; sub: subscription filter, used as is)")
	fs.BoolVar(&c.SharedTopic, "shared-topic", false, "fanin: all publishers on one topic instead of prefix/<n>")
	fs.BoolVar(&c.Clean, "clean", true, "clean session / clean start")
	fs.IntVar(&c.KeepAlive, "keepalive", 60, "keepalive seconds (0..65535); PINGREQ every half of it")
	fs.IntVar(&c.MaxConns, "max-conns", 0, "refuse runs needing more connections than this (0 = the open-files limit decides)")
	fs.Uint64Var(&c.Count, "count", 0, "stop each publisher stream after this many messages (0 = run for -duration)")
	fs.UintVar(&c.IDBase, "id-base", 0, "first publisher stream id; give concurrent loadgen processes disjoint ranges")
	fs.StringVar(&c.ClientID, "client-id", "lg", "client id prefix; each connection appends -<role><n>")
	return fs
}

func (c *Config) validate() error {
	ok := false
	for _, s := range scenarios {
		ok = ok || s == c.Scenario
	}
	switch {
	case !ok:
		return fmt.Errorf("%w: unknown scenario %q; want one of %s", errUsage, c.Scenario, strings.Join(scenarios, ", "))
	case c.Transport != "tcp" && c.Transport != "ws":
		return fmt.Errorf("%w: -transport %q: want tcp or ws", errUsage, c.Transport)
	case c.Transport == "ws" && !strings.HasPrefix(c.WSPath, "/"):
		return fmt.Errorf("%w: -ws-path %q must start with /", errUsage, c.WSPath)
	case c.Size < stampSize:
		return fmt.Errorf("%w: -size %d: payload must hold the %d-byte stamp (stream id, sequence, send time)", errUsage, c.Size, stampSize)
	case c.Size > 64<<20:
		return fmt.Errorf("%w: -size %d: at most 64 MiB", errUsage, c.Size)
	case c.Rate < 0:
		return fmt.Errorf("%w: -rate %v: must be >= 0", errUsage, c.Rate)
	case c.Inflight < 1 || c.Inflight > 65535:
		return fmt.Errorf("%w: -inflight %d: must be 1..65535 (packet ids)", errUsage, c.Inflight)
	case c.Duration <= 0:
		return fmt.Errorf("%w: -duration %v: must be > 0", errUsage, c.Duration)
	case c.Warmup < 0 || c.Drain < 0:
		return fmt.Errorf("%w: -warmup and -drain must be >= 0", errUsage)
	case c.Pubs < 1 || c.Subs < 1 || c.Pairs < 1 || c.Conns < 1:
		return fmt.Errorf("%w: -pubs, -subs, -pairs and -conns must be >= 1", errUsage)
	case c.ConnRate < 0:
		return fmt.Errorf("%w: -conn-rate %v: must be >= 0", errUsage, c.ConnRate)
	case c.KeepAlive < 0 || c.KeepAlive > 65535:
		return fmt.Errorf("%w: -keepalive %d: must be 0..65535 seconds", errUsage, c.KeepAlive)
	case c.MaxConns < 0:
		return fmt.Errorf("%w: -max-conns %d: must be >= 0", errUsage, c.MaxConns)
	case c.Topic == "" || strings.ContainsAny(c.Topic, "+#") && c.Scenario != scSub:
		return fmt.Errorf("%w: -topic %q: a non-empty topic without wildcards (only sub takes a filter)", errUsage, c.Topic)
	case c.Password != "" && c.Username == "" && c.Version < 5:
		return fmt.Errorf("%w: -P without -u needs -v 5 (MQTT 3.1.x forbids a password without a user name)", errUsage)
	case c.IDBase > 1<<31:
		return fmt.Errorf("%w: -id-base %d too large", errUsage, c.IDBase)
	}
	return nil
}

// connections is how many sockets the scenario opens.
func (c *Config) connections() int {
	switch c.Scenario {
	case scConn:
		return c.Conns
	case scPub:
		return c.Pubs
	case scSub:
		return c.Subs
	case scFanin:
		return c.Pubs + 1
	case scFanout:
		return c.Subs + 1
	case scP2P:
		return 2 * c.Pairs
	case scWild:
		return c.Pubs + c.Subs
	}
	return 0
}
