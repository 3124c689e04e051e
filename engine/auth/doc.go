// Package auth owns client authentication and authorisation for the broker:
// the mosquitto-format password file and ACL file, their atomic reload on
// SIGHUP, rate limiting of failed logins per remote address, password hashing
// compatible with mosquitto_passwd, and the `tsubame passwd` command.
//
// Callers: the engine calls Login (after LoginBlocked) on CONNECT, and Allowed
// on SUBSCRIBE (with the topic filter), on PUBLISH (Write on the topic name)
// and on every delivery (Read on the topic name). The configuration loader
// calls New and Reload; cmd/tsubame calls PasswdMain.
//
// What it must not do: it does not parse packets, keep sessions, touch the
// network or block. Allowed runs on event-loop goroutines for every message,
// so it takes no locks and allocates nothing: the loaded state is an immutable
// snapshot behind an atomic.Pointer, replaced as a whole by Reload.
//
//	readers (event loops)          Reload (config goroutine)
//	  s := state.Load() ──┐          parse files -> new *snapshot
//	  walk s.acl tries    │          on success: state.Store(new)
//	                      └── old snapshot stays valid until no reader holds it
//
// Only the failed-login table (rateLimiter) is mutable and has its own mutex;
// it is touched once per CONNECT, never per message.
package auth
