package admin

import (
	"iter"
	"time"
)

// Broker is what the admin server needs from the engine. The engine
// implements it; tests use a fake.
//
// Every method is called from HTTP handler goroutines, never from an event
// loop, and must be safe from any goroutine. None may hold, across the whole
// iteration, a lock that the publish path needs: iterate a snapshot, or
// shard by shard, taking each shard's lock only while copying one entry into
// the value handed to yield.
//
// Iterators hand out pointers that are valid only until yield returns (the
// engine may reuse one scratch value); the admin server copies the few
// entries it returns (one page). String fields must not alias buffers the
// engine will overwrite. Iteration order must be stable between calls while
// the set is unchanged (for example sorted, or shard order then insertion
// order), so pages do not repeat or skip entries.
type Broker interface {
	// Clients yields every session: connected clients and the disconnected
	// persistent sessions the broker keeps.
	Clients() iter.Seq[*Client]
	// Client returns one session with its subscriptions.
	Client(id string) (ClientDetail, bool)
	// Kick disconnects the client with DISCONNECT reason 0x98
	// (Administrative action) for v5, or by closing the socket for 3.1.x,
	// counts it as metrics.CloseAdminKick, and reports whether a connected
	// client had that id.
	Kick(id string) bool
	// Topics yields every subscribed topic filter, one entry per (filter,
	// shared group).
	Topics() iter.Seq[*Topic]
	// Retained yields every retained message.
	Retained() iter.Seq[*Retained]
	// DeleteRetained removes the retained message of topic (an exact topic
	// name, no wildcards) and reports whether there was one.
	DeleteRetained(topic string) bool
}

// Client is one session as the admin API shows it.
type Client struct {
	ID            string    `json:"id"`
	User          string    `json:"user"`
	RemoteAddr    string    `json:"remote_addr"`    // "" when disconnected
	Listener      string    `json:"listener"`       // listener name, as registered with metrics.Listener
	ProtocolLevel byte      `json:"protocol_level"` // 3, 4 or 5
	KeepAlive     uint16    `json:"keepalive"`      // seconds, as granted
	Connected     bool      `json:"connected"`
	ConnectedAt   time.Time `json:"connected_at"`   // last CONNECT accepted
	CleanStart    bool      `json:"clean_start"`    // clean session (3.1.x) or clean start (5)
	SessionExpiry uint32    `json:"session_expiry"` // seconds; 0 ends the session with the connection
	Subscriptions int       `json:"subscriptions"`
	Inflight      int       `json:"inflight"` // QoS 1/2 messages sent and not yet acknowledged
	Queued        int       `json:"queued"`   // messages waiting in the session queue
	MessagesIn    uint64    `json:"messages_in"`
	MessagesOut   uint64    `json:"messages_out"`
	BytesIn       uint64    `json:"bytes_in"`
	BytesOut      uint64    `json:"bytes_out"`
}

// ClientSubscription is one subscription of a client.
type ClientSubscription struct {
	Filter            string `json:"filter"`
	Group             string `json:"group,omitempty"` // shared subscription group, "" if not shared
	QoS               byte   `json:"qos"`
	NoLocal           bool   `json:"no_local"`
	RetainAsPublished bool   `json:"retain_as_published"`
	RetainHandling    byte   `json:"retain_handling"`
	Identifier        uint32 `json:"identifier,omitempty"` // v5 subscription identifier
}

// ClientDetail is a Client with its subscriptions.
type ClientDetail struct {
	Client
	SubscriptionList []ClientSubscription `json:"subscription_list"`
}

// Topic is one subscribed topic filter and its subscribers ("consumers").
type Topic struct {
	Filter      string   `json:"filter"`
	Group       string   `json:"group,omitempty"` // shared group: the filter was subscribed as $share/Group/Filter
	Subscribers int      `json:"subscribers"`
	Consumers   []string `json:"consumers,omitempty"` // client ids; the engine may cap the list (Subscribers is exact)
}

// Retained is one retained message, without its payload.
type Retained struct {
	Topic      string    `json:"topic"`
	Size       int       `json:"size"` // payload bytes
	QoS        byte      `json:"qos"`
	Created    time.Time `json:"created_at"`
	AgeSeconds float64   `json:"age_seconds"` // filled by the admin server from Created
}
