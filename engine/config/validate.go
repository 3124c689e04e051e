package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Validate fills the per-listener defaults (name, WebSocket path) and unset
// feature switches, then checks every setting. It returns all problems at
// once, joined with errors.Join; each wraps ErrInvalid or ErrInsecure and
// names the YAML key to change. TLS key pairs and CA bundles are loaded
// here so that a bad file is reported before anything listens.
func (c *Config) Validate() error {
	v := &validator{c: c}
	c.fillDefaults()
	v.listeners()
	v.mqtt()
	v.auth()
	v.admin()
	v.misc()
	v.ports()
	return errors.Join(v.errs...)
}

type validator struct {
	c     *Config
	errs  []error
	binds []bind // every address the broker will listen on, for the duplicate check
}

type bind struct {
	what       string // `listener "x"` or `admin.address`
	host, port string
}

func (v *validator) invalid(format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
}

func (c *Config) fillDefaults() {
	for i := range c.Listeners {
		l := &c.Listeners[i]
		if l.IsWebSocket() && l.Path == "" {
			l.Path = DefaultWSPath
		}
		if l.Name == "" {
			l.Name = l.URL()
		}
	}
	m := &c.MQTT
	for _, p := range []**bool{&c.Admin.Enabled, &m.RetainAvailable, &m.WildcardSubscriptions, &m.SharedSubscriptions, &m.SubscriptionIdentifiers} {
		if *p == nil {
			*p = boolPtr(true)
		}
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
}

func (v *validator) listeners() {
	c := v.c
	if len(c.Listeners) == 0 {
		v.invalid("listeners: at least one listener is required")
		return
	}
	names := make(map[string]int, len(c.Listeners))
	for i := range c.Listeners {
		l := &c.Listeners[i]
		at := fmt.Sprintf("listener %q (listeners[%d])", l.Name, i)
		if j, dup := names[l.Name]; dup {
			v.invalid("%s: name is already used by listeners[%d]", at, j)
		}
		names[l.Name] = i

		switch l.Type {
		case TypeTCP, TypeWS, TypeTLS, TypeWSS:
		case "":
			v.invalid("%s: type is required (tcp, ws, tls or wss)", at)
		default:
			v.invalid("%s: unknown type %q (want tcp, ws, tls or wss)", at, l.Type)
		}

		host, port, ok := v.address(at+": address", l.Address, true)
		if ok {
			v.binds = append(v.binds, bind{what: fmt.Sprintf("listener %q", l.Name), host: host, port: port})
		}

		if l.IsWebSocket() {
			if l.Path != "*" && !strings.HasPrefix(l.Path, "/") {
				v.invalid("%s: path %q must start with / or be * (any path)", at, l.Path)
			}
			for _, o := range l.AllowedOrigins {
				if !validOrigin(o) {
					v.invalid("%s: allowed_origins entry %q is not * or scheme://host[:port]", at, o)
				}
			}
		} else {
			if l.Path != "" {
				v.invalid("%s: path applies only to ws and wss listeners", at)
			}
			if l.Compression {
				v.invalid("%s: compression applies only to ws and wss listeners", at)
			}
			if len(l.AllowedOrigins) > 0 {
				v.invalid("%s: allowed_origins applies only to ws and wss listeners", at)
			}
		}

		if l.IsTLS() {
			v.tls(at, l)
		} else if l.Type == TypeTCP || l.Type == TypeWS {
			for _, k := range []struct {
				key string
				set bool
			}{
				{"cert", l.Cert != ""}, {"key", l.Key != ""}, {"ca_cert", l.CACert != ""},
				{"require_certificate", l.RequireCertificate}, {"use_identity_as_username", l.UseIdentityAsUsername},
			} {
				if k.set {
					v.invalid("%s: %s applies only to tls and wss listeners (set type: tls or wss)", at, k.key)
				}
			}
		}

		v.anonymous(at, i, l, host, ok)
	}
}

// tls checks the TLS settings of a tls or wss listener and loads its files.
func (v *validator) tls(at string, l *Listener) {
	switch {
	case l.Cert == "" && l.Key == "":
		v.invalid("%s: a %s listener needs cert and key (PEM files)", at, l.Type)
	case l.Cert == "":
		v.invalid("%s: key is set but cert is missing", at)
	case l.Key == "":
		v.invalid("%s: cert is set but key is missing", at)
	default:
		if _, err := tls.LoadX509KeyPair(l.Cert, l.Key); err != nil {
			v.invalid("%s: cannot load cert %q and key %q: %w", at, l.Cert, l.Key, err)
		}
	}
	if l.RequireCertificate && l.CACert == "" {
		v.invalid("%s: require_certificate needs ca_cert to verify client certificates against", at)
	}
	if l.UseIdentityAsUsername && !l.RequireCertificate {
		v.invalid("%s: use_identity_as_username needs require_certificate: true", at)
	}
	if l.CACert != "" {
		pem, err := os.ReadFile(l.CACert)
		switch {
		case err != nil:
			v.invalid("%s: cannot read ca_cert: %w", at, err)
		case !x509.NewCertPool().AppendCertsFromPEM(pem):
			v.invalid("%s: ca_cert %q holds no PEM certificate", at, l.CACert)
		}
	}
}

// anonymous enforces the exposure rule: a listener other hosts can reach
// must either authenticate clients or have allow_anonymous: true written
// explicitly; and every listener must let someone in.
func (v *validator) anonymous(at string, i int, l *Listener, host string, addrOK bool) {
	c := v.c
	authenticated := c.Auth.PasswordFile != "" || l.CertIdentity()
	anon := c.AnonymousAllowed(l)
	if !anon && !authenticated {
		v.invalid("%s: no client could connect: anonymous clients are refused and there is no auth.password_file "+
			"or certificate identity (require_certificate + use_identity_as_username)", at)
		return
	}
	explicit := l.AllowAnonymous != nil || c.Auth.AllowAnonymous != nil
	if addrOK && !IsLoopback(host) && !authenticated && anon && !explicit {
		v.errs = append(v.errs, fmt.Errorf("%w: %s listens on %q, which other hosts can reach, without authentication; "+
			"set listeners[%d].allow_anonymous: true (or auth.allow_anonymous: true) to accept anonymous clients there, "+
			"or configure auth.password_file or require_certificate + use_identity_as_username",
			ErrInsecure, at, l.Address, i))
	}
}

func (v *validator) mqtt() {
	m := &v.c.MQTT
	if m.MaxKeepalive == 0 {
		v.invalid("mqtt.max_keepalive: must be 1..65535 seconds (it caps client keepalives, 0 would disable them)")
	}
	if m.ReceiveMaximum == 0 {
		v.invalid("mqtt.receive_maximum: must be 1..65535 (0 is a protocol error in a v5 CONNACK)")
	}
	if m.MaxPacketSize < MinPacketSize || m.MaxPacketSize > MaxPacketSizeLimit {
		v.invalid("mqtt.max_packet_size: %d is outside %d..%d bytes", m.MaxPacketSize, MinPacketSize, MaxPacketSizeLimit)
	}
	if m.MaxQueuedMessages < 1 {
		v.invalid("mqtt.max_queued_messages: %d must be at least 1 (queues are always bounded)", m.MaxQueuedMessages)
	}
	if m.MaxQueuedBytes < 0 {
		v.invalid("mqtt.max_queued_bytes: %d must be 0 (no byte limit) or positive", m.MaxQueuedBytes)
	}
	if m.MaxOutboundBytes < 1 {
		v.invalid("mqtt.max_outbound_bytes: %d must be positive (outbound buffers are always bounded)", m.MaxOutboundBytes)
	}
	if m.ConnectTimeout <= 0 {
		v.invalid("mqtt.connect_timeout: %s must be positive", m.ConnectTimeout)
	}
	if m.MaxQoS > 2 {
		v.invalid("mqtt.max_qos: %d must be 0, 1 or 2", m.MaxQoS)
	}
	// The server must accept client ids of 1 to 23 bytes [MQTT-3.1.3-5];
	// a string field cannot exceed 65535 bytes.
	if m.MaxClientIDLen < MinClientIDLen || m.MaxClientIDLen > 65535 {
		v.invalid("mqtt.max_client_id_len: %d is outside %d..65535 (clients must be allowed ids of up to 23 bytes)", m.MaxClientIDLen, MinClientIDLen)
	}
}

func (v *validator) auth() {
	a := &v.c.Auth
	for _, f := range [...]struct{ key, path string }{{"auth.password_file", a.PasswordFile}, {"auth.acl_file", a.ACLFile}} {
		key, p := f.key, f.path
		if p == "" {
			continue
		}
		st, err := os.Stat(p)
		switch {
		case err != nil:
			v.invalid("%s: %w", key, err)
		case !st.Mode().IsRegular():
			v.invalid("%s: %q is not a regular file", key, p)
		}
	}
	seen := make(map[string]bool, len(a.AdminUsers))
	for i, u := range a.AdminUsers {
		switch {
		case u == "":
			v.invalid("auth.admin_users[%d]: empty user name", i)
		case seen[u]:
			v.invalid("auth.admin_users[%d]: %q is listed twice", i, u)
		}
		seen[u] = true
	}
}

func (v *validator) admin() {
	c := v.c
	if !c.AdminEnabled() {
		return
	}
	host, port, ok := v.address("admin.address", c.Admin.Address, false)
	if !ok {
		return
	}
	v.binds = append(v.binds, bind{what: "admin.address", host: host, port: port})
	anonExplicit := c.Auth.AllowAnonymous != nil && *c.Auth.AllowAnonymous
	if !IsLoopback(host) && c.Auth.PasswordFile == "" && !anonExplicit {
		v.errs = append(v.errs, fmt.Errorf("%w: admin.address %q can be reached from other hosts but there is no "+
			"auth.password_file to authenticate admin_users; set auth.password_file, bind admin.address to 127.0.0.1, "+
			"or set auth.allow_anonymous: true", ErrInsecure, c.Admin.Address))
	}
}

func (v *validator) misc() {
	c := v.c
	if c.SysInterval < 0 {
		v.invalid("sys_interval: %d must be 0 (off) or a number of seconds", c.SysInterval)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.invalid("log.level: %q must be debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		v.invalid("log.format: %q must be text or json", c.Log.Format)
	}
	if c.Pprof != "" {
		if host, port, ok := v.address("pprof", c.Pprof, false); ok {
			v.binds = append(v.binds, bind{what: "pprof", host: host, port: port})
		}
	}
}

// address checks a host:port; port 0 (pick any) is allowed only when
// allowZero. It reports the split host and port.
func (v *validator) address(key, addr string, allowZero bool) (host, port string, ok bool) {
	if addr == "" {
		v.invalid("%s is required (host:port, e.g. 127.0.0.1:1883 or :1883 for every interface)", key)
		return "", "", false
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.invalid("%s: %q is not host:port: %w", key, addr, err)
		return "", "", false
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !allowZero) {
		v.invalid("%s: %q: port must be a number 1..65535", key, addr)
		return "", "", false
	}
	return host, strconv.Itoa(n), true
}

// ports reports two sockets that would bind the same port on overlapping
// hosts. Port 0 asks the kernel for a free port and never collides.
func (v *validator) ports() {
	for i, a := range v.binds {
		if a.port == "0" {
			continue
		}
		for _, b := range v.binds[:i] {
			if a.port == b.port && (canonHost(a.host) == canonHost(b.host) || isWildcard(a.host) || isWildcard(b.host)) {
				v.invalid("%s: address %s:%s is already used by %s", a.what, a.host, a.port, b.what)
				break
			}
		}
	}
}

func isWildcard(host string) bool {
	return host == "" || host == "0.0.0.0" || host == "::"
}

func canonHost(host string) string {
	if strings.EqualFold(host, "localhost") {
		return "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.String()
	}
	return strings.ToLower(host)
}

// IsLoopback reports whether host (the host part of a listen address)
// reaches this machine only: localhost, 127.0.0.0/8 or ::1. The empty host
// and 0.0.0.0 bind every interface and are not loopback; other host names
// are treated as reachable from other hosts.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validOrigin(o string) bool {
	if o == "*" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Scheme != "" && u.Host != "" && (u.Path == "" || u.Path == "/") &&
		u.RawQuery == "" && u.Fragment == "" && u.User == nil
}
