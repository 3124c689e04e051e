// Package store is the seam between the broker's protocol code and where
// its state lives. The engine keeps live state in memory and talks to it
// only through these interfaces, so a durable implementation (a write-ahead
// log, an embedded database) can be added without touching the protocol
// code: it wraps the in-memory structures and writes each change through.
//
// It must not import the engine; the engine passes plain records.
//
// What exists today is the in-memory configuration: Retained is satisfied by
// *router.Retained, and Memory drops session records (sessions live in the
// engine's registry for as long as the process does). Nothing is durable
// across a restart yet, and README says so.
package store

import "github.com/tsubame-mq/tsubame/router"

// Retained holds the retained message of each topic [MQTT-3.3.1-5].
// *router.Retained implements it in memory.
type Retained interface {
	Set(m *router.Message)
	Delete(topic string) bool
	Get(topic string) *router.Message
	Match(filter string, fn func(*router.Message) bool)
	Len() int
	Walk(fn func(*router.Message) bool)
}

var _ Retained = (*router.Retained)(nil)

// Subscription is one subscription of a stored session.
type Subscription struct {
	Filter string
	Opts   router.Options
}

// SessionRecord is what a persistent session needs to be rebuilt after a
// restart: identity, expiry and subscriptions. Queued and inflight
// messages travel through Message events.
type SessionRecord struct {
	ClientID      string
	Username      string
	Version       byte
	ExpirySeconds uint32
	Subscriptions []Subscription
}

// Sessions receives every change to persistent sessions. Calls come from
// event loops: implementations must not block (buffer and write from their
// own goroutine).
type Sessions interface {
	// Saved records a session's identity and subscriptions after CONNECT,
	// SUBSCRIBE and UNSUBSCRIBE.
	Saved(rec *SessionRecord)
	// Deleted records that a session ended (expired or clean start).
	Deleted(clientID string)
	// Load calls fn for every stored session at start.
	Load(fn func(rec *SessionRecord)) error
}

// Memory is the in-memory configuration: sessions are not kept beyond the
// engine's own registry, so there is nothing to record or load.
type Memory struct{}

func (Memory) Saved(*SessionRecord)                { /* state lives in the engine registry */ }
func (Memory) Deleted(string)                      { /* state lives in the engine registry */ }
func (Memory) Load(func(rec *SessionRecord)) error { return nil }

var _ Sessions = Memory{}
