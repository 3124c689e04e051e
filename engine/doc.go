// Package engine is the broker: it owns the network listeners, one MQTT
// state machine per connection (client), the sessions that outlive
// connections, keepalive and session timers, wills, and the glue between
// the codec (bytes <-> packets), the router (who gets a message) and the
// sub-packages for auth, WebSocket, metrics and the admin API.
//
// It must not parse bytes itself (codec does), keep its own subscription
// index (router does), or block an event loop: every gnet callback returns
// after a bounded amount of work and never waits on another loop.
//
// # Threads and ownership
//
//	gnet loop 0        gnet loop 1        TLS conn goroutines     housekeeping
//	 worker{0}          worker{1}          worker{tls} + writer    wheel, timers, $SYS
//	   │ OnTraffic        │                  │ read                  │ (system worker)
//	   ▼                  ▼                  ▼                       ▼
//	client.input ─► codec.Decode ─► handle* ─► router.Match ─► Session.deliver
//	                                                              │
//	           pending output of the subscriber: its own loop's buffer,
//	           the delivering loop's staging slot, or client.out (locked)
//	                                                              │
//	             end of turn: worker.flushTurn ─► one write per client
//
// A client belongs to one worker (its event loop, or its TLS reader
// goroutine); only that worker runs its protocol code. Any worker may deliver
// to any session: Session.mu guards the session state (QoS 1/2), QoS 0 takes
// no session lock, and the QoS 0 fan-out between event loops takes no lock at
// all (worker.go explains the three output paths). Lock order: registry
// shard, then Session.mu, then client.mu.
//
// Files are split by packet like mosquitto's: handle_connect.go,
// handle_publish.go, handle_subscribe.go; session.go holds delivery, inflight
// and the offline queue; sessions.go takeover, expiry and wills;
// transport_gnet.go and transport_tls.go the two transports; timers.go the
// keepalive wheel.
package engine
