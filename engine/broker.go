package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/admin"
	"github.com/tsubame-mq/tsubame/engine/auth"
	"github.com/tsubame-mq/tsubame/engine/config"
	"github.com/tsubame-mq/tsubame/engine/metrics"
	"github.com/tsubame-mq/tsubame/engine/store"
	"github.com/tsubame-mq/tsubame/engine/ws"
	"github.com/tsubame-mq/tsubame/router"
)

// Version is the broker version reported in $SYS and the admin API.
const Version = "0.1.0"

// limits are the protocol limits from the config, in the form the hot path
// reads them.
type limits struct {
	maxKeepalive     uint16
	receiveMaximum   uint16
	maxPacketSize    uint32
	maxQueued        int
	maxQueuedBytes   int64
	maxSessionExpiry uint32
	maxTopicAlias    uint16
	maxOutbound      int64
	connectTimeout   int64 // seconds
	retainAvailable  bool
	maxQoS           byte
	wildcardSubs     bool
	sharedSubs       bool
	subIDs           bool
	maxClientIDLen   int
}

func limitsFrom(m *config.MQTT) limits {
	return limits{
		maxKeepalive:     m.MaxKeepalive,
		receiveMaximum:   m.ReceiveMaximum,
		maxPacketSize:    m.MaxPacketSize,
		maxQueued:        m.MaxQueuedMessages,
		maxQueuedBytes:   m.MaxQueuedBytes,
		maxSessionExpiry: m.MaxSessionExpiry,
		maxTopicAlias:    m.MaxTopicAlias,
		maxOutbound:      int64(m.MaxOutboundBytes),
		connectTimeout:   int64(max(1, m.ConnectTimeout.Std()/time.Second)),
		retainAvailable:  m.Retain(),
		maxQoS:           m.MaxQoS,
		wildcardSubs:     m.Wildcards(),
		sharedSubs:       m.Shared(),
		subIDs:           m.SubIDs(),
		maxClientIDLen:   m.MaxClientIDLen,
	}
}

// ACL access kinds as the engine asks for them.
const (
	aclRead      = auth.Read
	aclWrite     = auth.Write
	aclSubscribe = auth.Subscribe
)

// Broker is one running MQTT broker: listeners, sessions, router, retained
// store. Create it with New, then Start; Shutdown stops it.
type Broker struct {
	cfg      *config.Config
	lim      limits
	log      *slog.Logger
	debug    bool       // debug logging on: per-connection lines are built only then
	numLoops int        // event loops gnet runs (one per CPU, as WithMulticore does)
	auth     *auth.Auth // nil: everyone may do everything
	metrics  *metrics.Metrics

	router   *router.Router
	retained store.Retained // in memory today; see engine/store for the seam
	stored   store.Sessions
	sessions registry

	wheel  *keepaliveWheel
	timers timerQueue
	sys    systemWorker

	listeners []*listener
	byPort    map[int]*listener

	loopsMu sync.Mutex
	loops   []*worker // event-loop workers, indexed by worker.idx; append-only under loopsMu
	loopsP  atomic.Pointer[[]*worker]

	eng      gnet.Engine
	engErr   chan error
	booted   chan struct{}
	stop     chan struct{}
	stopped  sync.WaitGroup
	shutting atomic.Bool
	started  time.Time

	tlsMu    sync.Mutex
	tlsConns map[*goTransport]struct{}

	admin *admin.Server

	holdHigh, holdLow int        // queue marks for holding publishers' acknowledgements
	holding           holdingSet // sessions holding acknowledgements, for the holdMax timeout
}

// holdingSet tracks sessions that hold publishers' acknowledgements so the
// housekeeping tick can release holds older than holdMax.
type holdingSet struct {
	mu sync.Mutex
	m  map[*Session]struct{}
}

func (h *holdingSet) add(s *Session) {
	h.mu.Lock()
	if h.m == nil {
		h.m = make(map[*Session]struct{})
	}
	h.m[s] = struct{}{}
	h.mu.Unlock()
}

// expire releases holds older than holdMax, and forgets sessions that hold
// nothing any more.
func (b *Broker) expireHolds(now int64) {
	b.holding.mu.Lock()
	list := make([]*Session, 0, len(b.holding.m))
	for s := range b.holding.m {
		list = append(list, s)
	}
	b.holding.mu.Unlock()
	if len(list) == 0 {
		return
	}
	b.sys.run(func(w *worker) {
		for _, s := range list {
			s.mu.Lock()
			if len(s.waiters) > 0 && now-s.holdSince >= int64(holdMax) {
				s.releaseLocked(w)
			}
			idle := len(s.waiters) == 0
			s.mu.Unlock()
			if idle {
				b.holding.mu.Lock()
				delete(b.holding.m, s)
				b.holding.mu.Unlock()
			}
		}
	})
}

// listener is one configured endpoint.
type listener struct {
	name      string
	typ       string
	addr      string
	port      int
	ws        bool
	tls       bool
	wsCfg     ws.Config
	allowAnon int8 // per-listener override for auth.Login: -1 broker setting
	certUser  bool // certificate CN becomes the user name
	metrics   *metrics.ListenerMetrics
	cfg       *config.Listener
	ln        net.Listener // tls/wss only
}

// New builds a broker from cfg; it loads the auth files but does not listen.
func New(cfg *config.Config, log *slog.Logger) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	b := &Broker{
		cfg:      cfg,
		lim:      limitsFrom(&cfg.MQTT),
		log:      log,
		router:   router.New(),
		retained: router.NewRetained(),
		stored:   store.Memory{},
		byPort:   make(map[int]*listener),
		tlsConns: make(map[*goTransport]struct{}),
	}
	b.debug = log.Enabled(context.Background(), slog.LevelDebug)
	b.numLoops = runtime.NumCPU()
	b.metrics = metrics.New(metrics.Config{Shards: runtime.GOMAXPROCS(0) + 1, Version: Version})
	b.metrics.SetGauges(metrics.Gauges{
		Retained:      func() int64 { return int64(b.retained.Len()) },
		Subscriptions: func() int64 { return int64(b.router.Count()) },
		Sessions:      func() int64 { return int64(b.sessions.count()) },
	})
	b.wheel = newKeepaliveWheel(b)
	// Hold publishers' acknowledgements well before a queue could drop.
	b.holdHigh = max(8, min(4*int(b.lim.receiveMaximum), b.lim.maxQueued/2))
	b.holdLow = max(1, b.holdHigh/2)
	b.sys.w = newWorker(b, -1, nil)
	b.sys.w.ms = b.metrics.Shard(runtime.GOMAXPROCS(0))
	empty := []*worker{}
	b.loopsP.Store(&empty)

	if cfg.Auth.PasswordFile != "" || cfg.Auth.ACLFile != "" || !anonymousDefault(cfg) {
		a, err := auth.New(auth.Options{
			PasswordFile:   cfg.Auth.PasswordFile,
			ACLFile:        cfg.Auth.ACLFile,
			AllowAnonymous: anonymousDefault(cfg),
			Logger:         log,
		})
		if err != nil {
			return nil, err
		}
		b.auth = a
	}
	for i := range cfg.Listeners {
		lc := &cfg.Listeners[i]
		l := &listener{
			name:      lc.Name,
			typ:       lc.Type,
			addr:      lc.Address,
			ws:        lc.IsWebSocket(),
			tls:       lc.IsTLS(),
			allowAnon: -1,
			certUser:  lc.CertIdentity(),
			cfg:       lc,
		}
		if l.name == "" {
			l.name = lc.Type + "://" + lc.Address
		}
		if lc.AllowAnonymous != nil {
			l.allowAnon = 0
			if *lc.AllowAnonymous {
				l.allowAnon = 1
			}
		}
		if l.ws {
			l.wsCfg = ws.Config{
				Path:           lc.Path,
				AllowedOrigins: lc.AllowedOrigins,
				Compression:    lc.Compression,
				MaxFrameSize:   int(cfg.MQTT.MaxPacketSize) + 16,
				MaxHandshake:   8 << 10,
			}
		}
		b.listeners = append(b.listeners, l)
	}
	return b, nil
}

// anonymousDefault is the broker-wide anonymous setting.
func anonymousDefault(cfg *config.Config) bool {
	if cfg.Auth.AllowAnonymous != nil {
		return *cfg.Auth.AllowAnonymous
	}
	return cfg.Auth.PasswordFile == ""
}

// Start opens every listener. TCP and WebSocket listeners share one gnet
// engine (one event loop per core); TLS and WSS run on goroutines.
func (b *Broker) Start() error {
	b.started = time.Now()
	b.stop = make(chan struct{})
	var gnetAddrs []string
	for _, l := range b.listeners {
		if l.tls {
			if err := b.startTLS(l); err != nil {
				b.closeTLSListeners()
				return err
			}
			continue
		}
		gnetAddrs = append(gnetAddrs, "tcp://"+l.addr)
	}
	if len(gnetAddrs) > 0 {
		if err := b.startGnet(gnetAddrs); err != nil {
			b.closeTLSListeners()
			return err
		}
	}
	b.metrics.Start()
	b.stopped.Add(1)
	go func() {
		defer b.stopped.Done()
		b.housekeeping(b.stop)
	}()
	if b.cfg.SysInterval > 0 {
		b.stopped.Add(1)
		go func() {
			defer b.stopped.Done()
			b.sysLoop(time.Duration(b.cfg.SysInterval)*time.Second, b.stop)
		}()
	}
	for _, l := range b.listeners {
		b.log.Info("listening", "listener", l.name, "type", l.typ, "address", l.addr)
	}
	if b.cfg.AdminEnabled() && b.cfg.Admin.Address != "" {
		b.admin = admin.New(adminView{b}, b.metrics, admin.Options{
			Address:        b.cfg.Admin.Address,
			Pprof:          b.cfg.Admin.Pprof,
			Authenticate:   b.checkPassword,
			AdminUsers:     b.cfg.Auth.AdminUsers,
			AllowAnonymous: anonymousDefault(b.cfg),
			ErrorLog:       slog.NewLogLogger(b.log.Handler(), slog.LevelWarn),
		})
		if err := b.admin.Start(); err != nil {
			_ = b.Shutdown(context.Background())
			return fmt.Errorf("admin: %w", err)
		}
		b.log.Info("admin console", "address", b.admin.Addr().String())
	}
	return nil
}

// checkPassword verifies admin API credentials against the password file.
func (b *Broker) checkPassword(user, pass string) bool {
	if b.auth == nil || !b.auth.HasUsers() {
		return false
	}
	return b.auth.Login(netip.Addr{}, []byte(user), []byte(pass), true, true, 0) == codec.Success
}

// AdminAddr is the admin server's bound address, "" when it is off.
func (b *Broker) AdminAddr() string {
	if b.admin == nil {
		return ""
	}
	return b.admin.Addr().String()
}

// startGnet binds the TCP and WebSocket addresses on one gnet engine and
// waits until it has booted or failed.
func (b *Broker) startGnet(addrs []string) error {
	// Bind ports up front so that a port taken by another process is a
	// clear error here rather than a gnet log line.
	//
	// Port 0 (tests) needs the port picked before gnet binds it. A plain
	// probe that binds, closes and lets gnet bind again leaves a window in
	// which another socket can take the port. Instead the probe keeps the
	// port with SO_REUSEPORT (bound, not listening, so it never receives a
	// connection) until gnet, also with SO_REUSEPORT, has bound it too.
	// Fixed ports keep the plain check and no SO_REUSEPORT, so a second
	// broker on the same port is an error, never a silent share.
	var holds []int
	defer func() {
		for _, fd := range holds {
			_ = unix.Close(fd)
		}
	}()
	reusePort := false
	for _, l := range b.listeners {
		if l.tls {
			continue
		}
		host, p, _ := net.SplitHostPort(l.addr)
		var port int
		if p == "0" {
			fd, bound, err := holdPort(host)
			if err != nil {
				return fmt.Errorf("listener %s: %w", l.name, err)
			}
			holds = append(holds, fd)
			port, reusePort = bound, true
			l.addr = net.JoinHostPort(host, strconv.Itoa(port))
		} else {
			ln, err := net.Listen("tcp", l.addr)
			if err != nil {
				return fmt.Errorf("listener %s: %w", l.name, err)
			}
			port = ln.Addr().(*net.TCPAddr).Port
			_ = ln.Close()
		}
		l.port = port
		b.byPort[port] = l
		l.metrics = b.metrics.Listener(l.name, l.typ, l.addr, l.tls)
	}
	addrs = addrs[:0]
	for _, l := range b.listeners {
		if !l.tls {
			addrs = append(addrs, "tcp://"+l.addr)
		}
	}
	b.engErr = make(chan error, 1)
	b.booted = make(chan struct{})
	h := &gnetHandler{b: b}
	go func() {
		err := gnet.Rotate(h, addrs,
			gnet.WithNumEventLoop(b.numLoops),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithReadBufferCap(64<<10),
			gnet.WithLogger(gnetLogger{b.log}),
			gnet.WithReuseAddr(true),
			gnet.WithReusePort(reusePort),
		)
		b.engErr <- err
	}()
	select {
	case <-b.booted:
		return nil
	case err := <-b.engErr:
		if err == nil {
			err = errors.New("event loops stopped during start")
		}
		return fmt.Errorf("starting listeners: %w", err)
	case <-time.After(10 * time.Second):
		return errors.New("starting listeners: timed out")
	}
}

// holdPort binds a TCP socket with SO_REUSEPORT to host:0 without listening
// and returns it with the port the kernel chose.
func holdPort(host string) (fd, port int, err error) {
	ip := net.ParseIP(host)
	if host == "" || host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil {
		return -1, 0, fmt.Errorf("port 0 needs an IP address, got %q", host)
	}
	family := unix.AF_INET6
	var sa unix.Sockaddr
	if ip4 := ip.To4(); ip4 != nil {
		family = unix.AF_INET
		sa4 := &unix.SockaddrInet4{}
		copy(sa4.Addr[:], ip4)
		sa = sa4
	} else {
		sa6 := &unix.SockaddrInet6{}
		copy(sa6.Addr[:], ip.To16())
		sa = sa6
	}
	fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, err
	}
	if err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err == nil {
		if err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err == nil {
			err = unix.Bind(fd, sa)
		}
	}
	if err != nil {
		_ = unix.Close(fd)
		return -1, 0, err
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		_ = unix.Close(fd)
		return -1, 0, err
	}
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		port = a.Port
	case *unix.SockaddrInet6:
		port = a.Port
	}
	return fd, port, nil
}

// Shutdown stops accepting, closes every connection (wills are sent as for
// any server-side close [MQTT-3.1.2-8]), and stops the background work.
func (b *Broker) Shutdown(ctx context.Context) error {
	if !b.shutting.CompareAndSwap(false, true) {
		return nil
	}
	b.closeTLSListeners()
	if b.admin != nil {
		_ = b.admin.Shutdown(ctx)
	}
	// v5 clients are told why [MQTT-4.13.2-1].
	b.sessions.each(func(s *Session) bool {
		if c := s.client.Load(); c != nil {
			c.closeAsync(metrics.CloseServerShutdown, codec.ServerShuttingDown)
		}
		return true
	})
	var err error
	if b.booted != nil {
		err = b.eng.Stop(ctx)
		select {
		case <-b.engErr:
		case <-ctx.Done():
		}
	}
	b.tlsMu.Lock()
	for t := range b.tlsConns {
		_ = t.conn.Close()
	}
	b.tlsMu.Unlock()
	close(b.stop)
	b.stopped.Wait()
	b.metrics.Stop()
	return err
}

// Reload re-reads the password and ACL files; connections stay up.
func (b *Broker) Reload() error {
	if b.auth == nil {
		return nil
	}
	return b.auth.Reload()
}

// Metrics returns the broker's counters (for the admin server).
func (b *Broker) Metrics() *metrics.Metrics { return b.metrics }

// Addr returns the bound address of the named listener type's first
// listener ("tcp", "ws", "tls", "wss"); useful with port 0 in tests.
func (b *Broker) Addr(typ string) string {
	for _, l := range b.listeners {
		if l.typ == typ {
			return l.addr
		}
	}
	return ""
}

// workerFor returns the worker of event loop el, creating it on first use.
func (b *Broker) workerFor(el gnet.EventLoop) *worker {
	for _, w := range *b.loopsP.Load() {
		if w.el == el {
			return w
		}
	}
	b.loopsMu.Lock()
	defer b.loopsMu.Unlock()
	for _, w := range b.loops {
		if w.el == el {
			return w
		}
	}
	w := newWorker(b, len(b.loops), el)
	w.ms = b.metrics.Shard(w.idx)
	b.loops = append(b.loops, w)
	snap := append([]*worker(nil), b.loops...)
	b.loopsP.Store(&snap)
	return w
}

func (b *Broker) loopWorker(i int) *worker { return (*b.loopsP.Load())[i] }

// gnetLogger sends gnet's own log lines to the broker's logger, keeping its
// informational chatter at debug level.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error("gnet: " + fmt.Sprintf(f, a...)) }
