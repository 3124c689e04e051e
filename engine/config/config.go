// Package config owns the broker's configuration: the YAML file format, the
// defaults applied when a key is absent, and the validation that rejects a
// bad or unsafe configuration before any socket is opened.
//
// It must not open listeners, read password or ACL file contents, or keep
// global state: the engine (engine.New) and the tsubame command are its
// callers, and they act on a *Config that Load or Parse has already
// validated. The one exception to "no I/O" is TLS material: Validate loads
// every certificate and key pair so that a broken file is reported at start,
// not when the first client connects.
//
// The full key reference is README.md in this directory; tsubame.example.yaml
// is an annotated example that the tests load.
package config

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Listener types.
const (
	TypeTCP = "tcp" // plain MQTT over TCP
	TypeWS  = "ws"  // MQTT over WebSocket
	TypeTLS = "tls" // MQTT over TLS
	TypeWSS = "wss" // MQTT over WebSocket over TLS
)

// Defaults applied by Default and, for per-listener keys, by Validate.
const (
	DefaultListenerAddress   = "127.0.0.1:1883"
	DefaultAdminAddress      = "127.0.0.1:18083"
	DefaultWSPath            = "/mqtt"
	DefaultSysInterval       = 10 // seconds
	DefaultMaxKeepalive      = 60 // seconds
	DefaultReceiveMaximum    = 20
	DefaultMaxPacketSize     = 1 << 20 // 1 MiB
	DefaultMaxQueuedMessages = 1000
	DefaultMaxSessionExpiry  = 86400 // seconds
	DefaultMaxTopicAlias     = 1024
	DefaultMaxOutboundBytes  = 4 << 20 // 4 MiB
	DefaultConnectTimeout    = Duration(10 * time.Second)
	DefaultMaxQoS            = 2
	DefaultMaxClientIDLen    = 65535
)

// Limits enforced by Validate.
const (
	// MinPacketSize is the smallest max_packet_size accepted: below it a
	// CONNECT with a modest client id, user name and will would not fit.
	MinPacketSize = 128
	// MaxPacketSizeLimit is the largest Remaining Length a Variable Byte
	// Integer can encode (268,435,455; spec section 1.5.5).
	MaxPacketSizeLimit = 268435455
	// MinClientIDLen: the server must accept client ids of 1 to 23 bytes, so
	// a lower max_client_id_len would break conforming clients [MQTT-3.1.3-5].
	MinClientIDLen = 23
)

// Config is the whole broker configuration. The zero value is not useful:
// start from Default, Load or Parse.
type Config struct {
	Listeners   []Listener `yaml:"listeners"`
	MQTT        MQTT       `yaml:"mqtt"`
	Auth        Auth       `yaml:"auth"`
	Admin       Admin      `yaml:"admin"`
	Log         Log        `yaml:"log"`
	SysInterval int        `yaml:"sys_interval"` // seconds between $SYS updates, default 10, 0 off
	Pprof       string     `yaml:"pprof"`        // debug address for net/http/pprof, "" off (also -pprof flag)
}

// Listener is one socket the broker accepts MQTT clients on.
type Listener struct {
	Name    string `yaml:"name"`    // default: type://address, e.g. "tcp://127.0.0.1:1883"
	Type    string `yaml:"type"`    // tcp | ws | tls | wss
	Address string `yaml:"address"` // host:port; empty host or 0.0.0.0 binds every interface
	Path    string `yaml:"path"`    // ws/wss only: HTTP path of the upgrade, default /mqtt, "*" any

	// TLS (tls and wss only). Cert and Key are PEM files; CACert is the PEM
	// bundle client certificates are verified against.
	Cert                  string `yaml:"cert"`
	Key                   string `yaml:"key"`
	CACert                string `yaml:"ca_cert"`
	RequireCertificate    bool   `yaml:"require_certificate"`      // clients must present a certificate signed by CACert
	UseIdentityAsUsername bool   `yaml:"use_identity_as_username"` // certificate CN becomes the user name

	AllowAnonymous *bool    `yaml:"allow_anonymous"` // per-listener override of auth.allow_anonymous
	Compression    bool     `yaml:"compression"`     // ws/wss only: permessage-deflate
	AllowedOrigins []string `yaml:"allowed_origins"` // ws/wss only: Origin header allow-list, empty = any
}

// MQTT holds protocol limits, applied to every listener.
type MQTT struct {
	MaxKeepalive            uint16   `yaml:"max_keepalive"`            // default 60; client keepalives above it (and 0) are lowered to it; v5 clients get Server Keep Alive
	ReceiveMaximum          uint16   `yaml:"receive_maximum"`          // default 20: inflight QoS 1/2 per client, both directions
	MaxPacketSize           uint32   `yaml:"max_packet_size"`          // default 1048576
	MaxQueuedMessages       int      `yaml:"max_queued_messages"`      // default 1000 per offline or slow session
	MaxQueuedBytes          int64    `yaml:"max_queued_bytes"`         // default 0 = bounded by max_queued_messages only
	MaxSessionExpiry        uint32   `yaml:"max_session_expiry"`       // default 86400 seconds
	MaxTopicAlias           uint16   `yaml:"max_topic_alias"`          // default 1024, 0 disables topic aliases
	MaxOutboundBytes        int      `yaml:"max_outbound_bytes"`       // pending outbound bytes per connection before QoS 0 drops; default 4 MiB
	ConnectTimeout          Duration `yaml:"connect_timeout"`          // default 10s: a socket that never sends CONNECT is closed
	RetainAvailable         *bool    `yaml:"retain_available"`         // default true
	MaxQoS                  byte     `yaml:"max_qos"`                  // default 2
	WildcardSubscriptions   *bool    `yaml:"wildcard_subscriptions"`   // default true
	SharedSubscriptions     *bool    `yaml:"shared_subscriptions"`     // default true
	SubscriptionIdentifiers *bool    `yaml:"subscription_identifiers"` // default true
	MaxClientIDLen          int      `yaml:"max_client_id_len"`        // default 65535
}

// Auth selects how clients authenticate and what they may do.
type Auth struct {
	AllowAnonymous *bool    `yaml:"allow_anonymous"` // nil: true only when there is no password_file
	PasswordFile   string   `yaml:"password_file"`   // written by `tsubame passwd`
	ACLFile        string   `yaml:"acl_file"`
	AdminUsers     []string `yaml:"admin_users"` // users allowed on the admin API, default ["admin"]
}

// Admin is the HTTP admin and metrics endpoint.
type Admin struct {
	Address string `yaml:"address"` // default 127.0.0.1:18083, "" off
	Enabled *bool  `yaml:"enabled"` // default true; false turns the endpoint off
	Pprof   bool   `yaml:"pprof"`   // also serve net/http/pprof under /debug/pprof/
}

// Log selects the log level and format.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error, default info
	Format string `yaml:"format"` // text | json, default text
}

// Default returns the configuration used when there is no config file: one
// TCP listener on 127.0.0.1:1883 open to anonymous clients, the admin
// endpoint on 127.0.0.1:18083. Each call returns a fresh value.
func Default() *Config {
	return &Config{
		Listeners: []Listener{{
			Name:    TypeTCP + "://" + DefaultListenerAddress,
			Type:    TypeTCP,
			Address: DefaultListenerAddress,
		}},
		MQTT: MQTT{
			MaxKeepalive:            DefaultMaxKeepalive,
			ReceiveMaximum:          DefaultReceiveMaximum,
			MaxPacketSize:           DefaultMaxPacketSize,
			MaxQueuedMessages:       DefaultMaxQueuedMessages,
			MaxSessionExpiry:        DefaultMaxSessionExpiry,
			MaxTopicAlias:           DefaultMaxTopicAlias,
			MaxOutboundBytes:        DefaultMaxOutboundBytes,
			ConnectTimeout:          DefaultConnectTimeout,
			RetainAvailable:         boolPtr(true),
			MaxQoS:                  DefaultMaxQoS,
			WildcardSubscriptions:   boolPtr(true),
			SharedSubscriptions:     boolPtr(true),
			SubscriptionIdentifiers: boolPtr(true),
			MaxClientIDLen:          DefaultMaxClientIDLen,
		},
		Auth:        Auth{AdminUsers: []string{"admin"}},
		Admin:       Admin{Address: DefaultAdminAddress},
		Log:         Log{Level: "info", Format: "text"},
		SysInterval: DefaultSysInterval,
	}
}

func boolPtr(v bool) *bool { return &v }

// URL names the listener as type://address[path], e.g. "ws://:8080/mqtt".
func (l *Listener) URL() string {
	u := l.Type + "://" + l.Address
	if l.IsWebSocket() {
		u += l.Path
	}
	return u
}

// IsWebSocket reports whether the listener speaks WebSocket (ws or wss).
func (l *Listener) IsWebSocket() bool { return l.Type == TypeWS || l.Type == TypeWSS }

// IsTLS reports whether the listener terminates TLS (tls or wss).
func (l *Listener) IsTLS() bool { return l.Type == TypeTLS || l.Type == TypeWSS }

// CertIdentity reports whether clients on this listener are authenticated
// by their certificate: a verified client certificate is required and its
// CN becomes the user name.
func (l *Listener) CertIdentity() bool { return l.RequireCertificate && l.UseIdentityAsUsername }

// AnonymousAllowed reports whether a client that presents no user name may
// connect on l: the listener's allow_anonymous if set, else
// auth.allow_anonymous if set, else true only when there is neither a
// password file nor certificate identity on the listener.
func (c *Config) AnonymousAllowed(l *Listener) bool {
	if l != nil && l.AllowAnonymous != nil {
		return *l.AllowAnonymous
	}
	if c.Auth.AllowAnonymous != nil {
		return *c.Auth.AllowAnonymous
	}
	if c.Auth.PasswordFile != "" {
		return false
	}
	return l == nil || !l.CertIdentity()
}

// AdminEnabled reports whether the admin endpoint should be served.
func (c *Config) AdminEnabled() bool {
	return c.Admin.Address != "" && (c.Admin.Enabled == nil || *c.Admin.Enabled)
}

// Retain reports whether retained messages are supported (mqtt.retain_available).
func (m *MQTT) Retain() bool { return m.RetainAvailable == nil || *m.RetainAvailable }

// Wildcards reports whether wildcard subscriptions are allowed.
func (m *MQTT) Wildcards() bool { return m.WildcardSubscriptions == nil || *m.WildcardSubscriptions }

// Shared reports whether shared subscriptions ($share/...) are allowed.
func (m *MQTT) Shared() bool { return m.SharedSubscriptions == nil || *m.SharedSubscriptions }

// SubIDs reports whether v5 subscription identifiers are supported.
func (m *MQTT) SubIDs() bool { return m.SubscriptionIdentifiers == nil || *m.SubscriptionIdentifiers }

// SlogLevel returns the slog level for log.level; unknown values give info.
func (l *Log) SlogLevel() slog.Level {
	switch strings.ToLower(l.Level) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// NewLogger returns a logger writing to w in log.format at log.level.
func (c *Config) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Log.SlogLevel()}
	if strings.ToLower(c.Log.Format) == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Duration is a time.Duration written in YAML as a Go duration string
// ("10s", "1m30s") or as a whole number of seconds (10).
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: duration must be a scalar like \"10s\" or a number of seconds", n.Line)
	}
	if n.ShortTag() == "!!int" {
		var secs int64
		if err := n.Decode(&secs); err != nil {
			return fmt.Errorf("line %d: duration %q: %v", n.Line, n.Value, err)
		}
		if secs > int64(1<<63-1)/int64(time.Second) || secs < -int64(1<<63-1)/int64(time.Second) {
			return fmt.Errorf("line %d: duration %q seconds is out of range", n.Line, n.Value)
		}
		*d = Duration(time.Duration(secs) * time.Second)
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: duration %q: want a Go duration like \"10s\" or a number of seconds", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
