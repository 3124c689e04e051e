package router

import (
	"unsafe"

	"github.com/tsubame-mq/tsubame/codec"
)

// Clone returns a deep copy of m whose topic, payload and property bytes live
// in memory of their own, so it no longer aliases any read buffer. All byte
// data goes into one allocation; user properties need a second one.
func (m *Message) Clone() *Message {
	p := &m.Props
	n := len(m.Topic) + len(m.Payload) + len(p.ContentType) + len(p.ResponseTopic) +
		len(p.CorrelationData) + len(p.AssignedClientID) + len(p.AuthMethod) + len(p.AuthData) +
		len(p.ResponseInfo) + len(p.ServerReference) + len(p.ReasonString) + 4*len(p.SubscriptionIDs)
	for _, u := range p.User {
		n += len(u.Key) + len(u.Value)
	}
	c := new(Message)
	*c = *m
	buf := make([]byte, 0, n)
	take := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		s := len(buf)
		buf = append(buf, b...)
		return buf[s:len(buf):len(buf)]
	}
	cp := &c.Props
	if p.SubscriptionIDs != nil {
		// Rare on a routed message (never forwarded); kept correct anyway.
		// First in buf, whose start is aligned for uint32.
		ids := take(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(p.SubscriptionIDs))), 4*len(p.SubscriptionIDs)))
		cp.SubscriptionIDs = unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(ids))), len(p.SubscriptionIDs))
	}
	if t := take(unsafe.Slice(unsafe.StringData(m.Topic), len(m.Topic))); len(t) > 0 {
		c.Topic = unsafe.String(unsafe.SliceData(t), len(t))
	} else {
		c.Topic = ""
	}
	c.Payload = take(m.Payload)
	cp.ContentType = take(p.ContentType)
	cp.ResponseTopic = take(p.ResponseTopic)
	cp.CorrelationData = take(p.CorrelationData)
	cp.AssignedClientID = take(p.AssignedClientID)
	cp.AuthMethod = take(p.AuthMethod)
	cp.AuthData = take(p.AuthData)
	cp.ResponseInfo = take(p.ResponseInfo)
	cp.ServerReference = take(p.ServerReference)
	cp.ReasonString = take(p.ReasonString)
	if p.User != nil {
		cp.User = make([]codec.UserProperty, len(p.User))
		for i, u := range p.User {
			cp.User[i] = codec.UserProperty{Key: take(u.Key), Value: take(u.Value)}
		}
	}
	return c
}
