package auth

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
)

// Options configures an Auth. Empty file names mean "not configured".
type Options struct {
	PasswordFile   string
	ACLFile        string
	AllowAnonymous bool
	Logger         *slog.Logger // nil: slog.Default()

	// Failed-login limiting per remote address (IPv6 per /64). Zero values
	// take the defaults in brackets.
	MaxFailures   int           // failures before blocking [5]
	FailureWindow time.Duration // failures older than this are forgotten [10m]
	MaxBlock      time.Duration // cap of the exponentially growing block [60s]
	MaxTrackedIPs int           // bound of the failure table, oldest evicted [65536]
	// Now is the clock Login uses to record failures [time.Now].
	Now func() time.Time
}

// Auth is the broker's authenticator and authoriser. It is safe for
// concurrent use; Allowed and Login never block on Reload.
type Auth struct {
	opts    Options
	log     *slog.Logger
	state   atomic.Pointer[snapshot]
	limiter *rateLimiter
}

// snapshot is the immutable state loaded from the files.
type snapshot struct {
	users map[string]passwordHash // nil: no password file
	acl   *aclSet                 // nil: no ACL file
}

// New loads the configured files. Errors name the file and line.
func New(o Options) (*Auth, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &Auth{opts: o, log: o.Logger}
	a.limiter = newRateLimiter(o.MaxFailures, o.FailureWindow, o.MaxBlock, o.MaxTrackedIPs)
	s, err := a.load()
	if err != nil {
		return nil, err
	}
	a.state.Store(s)
	return a, nil
}

func (a *Auth) load() (*snapshot, error) {
	s := &snapshot{}
	if a.opts.PasswordFile != "" {
		users, err := loadPasswordFile(a.opts.PasswordFile)
		if err != nil {
			return nil, err
		}
		s.users = users
	}
	if a.opts.ACLFile != "" {
		acl, err := loadACLFile(a.opts.ACLFile, a.log.Warn)
		if err != nil {
			return nil, err
		}
		s.acl = acl
	}
	return s, nil
}

// Reload re-reads both files. On any error the previous state stays in force
// and the error is returned; on success the new state replaces the old one
// atomically (readers see either the old or the new files, never a mix).
func (a *Auth) Reload() error {
	s, err := a.load()
	if err != nil {
		a.log.Error("auth reload failed, keeping previous state", "err", err)
		return err
	}
	a.state.Store(s)
	rules := 0
	if s.acl != nil {
		rules = s.acl.rules
	}
	a.log.Info("auth reloaded", "users", len(s.users), "acl_rules", rules)
	return nil
}

// HasACL reports whether an ACL file is loaded.
func (a *Auth) HasACL() bool { return a.state.Load().acl != nil }

// HasUsers reports whether a password file is loaded.
func (a *Auth) HasUsers() bool { return a.state.Load().users != nil }

// AnonymousAllowed reports the broker-wide allow_anonymous setting.
func (a *Auth) AnonymousAllowed() bool { return a.opts.AllowAnonymous }

// Login checks the CONNECT credentials and returns a v5 reason code (map it
// with codec.ConnackCodeV3 for 3.1.x):
//
//   - no username, anonymous allowed: Success.
//   - no username, anonymous refused: NotAuthorized (0x87; 3.1.x 0x05), as mosquitto.
//   - password flag without username: BadUsernameOrPassword (in 3.1.1 the
//     codec rejects it first [MQTT-3.1.2-22]).
//   - username with no password file: Success when anonymous is allowed
//     (nothing to check against), else NotAuthorized.
//   - unknown user, missing or wrong password: BadUsernameOrPassword (0x86; 3.1.x 0x04),
//     recorded as a failure of remoteIP for LoginBlocked.
//
// allowAnon overrides Options.AllowAnonymous for the listener: -1 use the
// broker setting, 0 refuse, 1 allow. Unknown users cost the same hashing time
// as known ones. Login does not consult LoginBlocked; the engine does, first.
func (a *Auth) Login(remoteIP netip.Addr, username, password []byte, hasUsername, hasPassword bool, allowAnon int8) byte {
	anon := a.opts.AllowAnonymous
	if allowAnon >= 0 {
		anon = allowAnon > 0
	}
	if !hasUsername {
		if hasPassword {
			a.limiter.fail(remoteIP, a.opts.Now())
			return codec.BadUsernameOrPassword // [MQTT-3.1.2-22]
		}
		if anon {
			return codec.Success
		}
		return codec.NotAuthorized
	}
	s := a.state.Load()
	if s.users == nil {
		if anon {
			return codec.Success
		}
		return codec.NotAuthorized
	}
	h, known := s.users[string(username)]
	if !known {
		h = dummyHash
	}
	ok := h.verify(password) && known && hasPassword
	if !ok {
		a.limiter.fail(remoteIP, a.opts.Now())
		return codec.BadUsernameOrPassword
	}
	a.limiter.succeed(remoteIP)
	return codec.Success
}

// LoginBlocked reports whether logins from remoteIP are refused at now
// because of recent failures. Cheap: one map lookup under a mutex.
func (a *Auth) LoginBlocked(remoteIP netip.Addr, now time.Time) bool {
	return a.limiter.blocked(remoteIP, now)
}

const sharePrefix = "$share/"

// Allowed reports whether the client may perform acc on topic: a topic name
// for Read (delivery) and Write (publish), a topic filter for Subscribe. An
// empty username means an anonymous client. Without an ACL file everything is
// allowed. With one, the default is deny; the client's rules are its user
// section (or, when anonymous, the section before the first user line) plus
// every pattern; a matching deny wins over any allow.
//
// For Subscribe, a shared subscription "$share/{group}/{filter}" is checked
// on its filter, and a rule must cover the whole filter (see matchFilter).
// A subscription partly overlapping a deny rule is allowed; the delivery-time
// Read check then drops the denied topics, so callers must check Read on
// delivery.
//
// Allowed takes no lock and allocates nothing.
func (a *Auth) Allowed(username, clientID string, topic string, acc Access) bool {
	s := a.state.Load()
	if s.acl == nil {
		return true
	}
	filter := acc&Subscribe != 0
	need := acc &^ Subscribe
	if filter {
		need |= Read
		if strings.HasPrefix(topic, sharePrefix) {
			_, f, ok := strings.Cut(topic[len(sharePrefix):], "/")
			if !ok {
				return false
			}
			topic = f
		}
	} else if strings.IndexAny(topic, "+#") >= 0 {
		return false // a topic name never holds wildcards [MQTT-3.3.2-2]
	}
	if need == 0 || topic == "" {
		return false
	}
	set := s.acl
	var own *ruleSet
	if username == "" {
		own = set.anon
	} else {
		own = set.users[username]
	}
	if own == nil && set.patterns == nil {
		return false
	}
	subj := subject{
		username: username, clientID: clientID,
		userOK: substitutable(username), clientOK: substitutable(clientID),
	}
	v := verdict{need: need}
	v.stop = (own == nil || !own.hasDeny) && (set.patterns == nil || !set.patterns.hasDeny)
	own.match(topic, filter, &subj, &v)
	set.patterns.match(topic, filter, &subj, &v)
	return !v.deny && v.allow&need == need
}

// String describes the loaded state for logs.
func (a *Auth) String() string {
	s := a.state.Load()
	rules := 0
	if s.acl != nil {
		rules = s.acl.rules
	}
	return fmt.Sprintf("auth{users=%d acl=%t rules=%d anonymous=%t}", len(s.users), s.acl != nil, rules, a.opts.AllowAnonymous)
}
