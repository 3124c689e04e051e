package router

import "github.com/tsubame-mq/tsubame/codec"

// Message is one application message as the broker routes, retains and
// queues it. A Message that is shared (retained, queued, inflight) is
// immutable: every subscriber it goes to references the same value, and only
// the per-delivery header (QoS, packet id, subscription ids) differs.
//
// A transient Message built on the publish path may alias the event loop's
// read buffer (Topic via unsafe.String, Payload, Props); Clone copies it into
// memory of its own before it is stored anywhere.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
	Props   codec.Properties // v5 properties forwarded to subscribers (never TopicAlias or SubscriptionIDs)
	Expiry  int64            // unix nanoseconds after which it is not delivered; 0 means never
	Created int64            // unix nanoseconds when the broker received it
	Origin  string           // client id of the publisher ("" for the broker itself)
}
