package metrics

import (
	"runtime/metrics"
	"strconv"
	"time"
)

// SysPrefix is the root of the broker's $SYS topics.
const SysPrefix = "$SYS/broker/"

// SysValue is one $SYS topic and its payload. The engine publishes each as a
// retained QoS 0 message every sys_interval seconds.
type SysValue struct {
	Topic string
	Value string
}

// loadWindows are the $SYS load averaging windows, in one-second samples.
var loadWindows = [...]struct {
	name    string
	samples int
}{{"1min", 60}, {"5min", 300}, {"15min", 900}}

var loadSeries = [...]struct {
	name string
	s    series
}{
	{"messages/received", seriesPacketsIn},
	{"messages/sent", seriesPacketsOut},
	{"publish/received", seriesPublishIn},
	{"publish/sent", seriesPublishOut},
	{"bytes/received", seriesBytesIn},
	{"bytes/sent", seriesBytesOut},
}

// SysTopics appends the $SYS values at time now to dst, using mosquitto's
// topic names and payload formats where mosquitto has them:
//
//	version, uptime ("N seconds"), clients/{connected,disconnected,maximum,total},
//	messages/{received,sent,stored} (all control packets, as mosquitto counts),
//	publish/messages/{received,sent,dropped} (application messages),
//	bytes/{received,sent}, subscriptions/count, "retained messages/count",
//	store/messages/count, heap/current,
//	load/{messages,publish,bytes}/{received,sent}/{1min,5min,15min}
//
// Load values are averages per minute over the window, as mosquitto reports
// them, computed from the samples taken by Sample (Start). clients/connected
// counts open network connections; clients/total counts sessions if the
// Sessions gauge is set, else the connected count.
func (m *Metrics) SysTopics(now time.Time, dst []SysValue) []SysValue {
	var t Totals
	m.Read(&t)
	u := func(name string, v uint64) {
		dst = append(dst, SysValue{SysPrefix + name, strconv.FormatUint(v, 10)})
	}
	i := func(name string, v int64) {
		if v < 0 {
			v = 0
		}
		u(name, uint64(v))
	}
	dst = append(dst,
		SysValue{SysPrefix + "version", "tsubame version " + m.version},
		SysValue{SysPrefix + "uptime", strconv.FormatInt(int64(now.Sub(m.start)/time.Second), 10) + " seconds"},
	)
	total := t.Sessions
	if m.gauges.Load().Sessions == nil || total < t.ConnectionsCurrent {
		total = t.ConnectionsCurrent
	}
	i("clients/connected", t.ConnectionsCurrent)
	i("clients/disconnected", total-t.ConnectionsCurrent)
	i("clients/maximum", t.ConnectionsMax)
	i("clients/total", total)
	u("messages/received", t.PacketsInTotal())
	u("messages/sent", t.PacketsOutTotal())
	i("messages/stored", t.Retained+t.Queued)
	i("store/messages/count", t.Retained+t.Queued)
	u("publish/messages/received", t.ReceivedTotal())
	u("publish/messages/sent", t.DeliveredTotal())
	u("publish/messages/dropped", t.DroppedTotal())
	u("bytes/received", t.BytesIn)
	u("bytes/sent", t.BytesOut)
	i("subscriptions/count", t.Subscriptions)
	i("retained messages/count", t.Retained)
	u("heap/current", heapBytes())

	w := &m.rates
	w.mu.Lock()
	for _, s := range loadSeries {
		for _, win := range loadWindows {
			perMin := w.rate(s.s, win.samples) * 60
			dst = append(dst, SysValue{
				SysPrefix + "load/" + s.name + "/" + win.name,
				strconv.FormatFloat(perMin, 'f', 2, 64),
			})
		}
	}
	w.mu.Unlock()
	return dst
}

const heapMetric = "/memory/classes/heap/objects:bytes"

// heapBytes reads live heap bytes without stopping the world (unlike
// runtime.ReadMemStats).
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		return s[0].Value.Uint64()
	}
	return 0
}

// Memory is the process memory the Go runtime reports, read without
// stopping the world.
type Memory struct {
	HeapBytes  uint64 `json:"heap_bytes"`  // live and not-yet-swept heap objects
	TotalBytes uint64 `json:"total_bytes"` // all memory mapped by the Go runtime
	Goroutines uint64 `json:"goroutines"`
}

// ReadMemory returns the current Memory.
func ReadMemory() Memory {
	s := []metrics.Sample{
		{Name: heapMetric},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/sched/goroutines:goroutines"},
	}
	metrics.Read(s)
	get := func(i int) uint64 {
		if s[i].Value.Kind() == metrics.KindUint64 {
			return s[i].Value.Uint64()
		}
		return 0
	}
	return Memory{HeapBytes: get(0), TotalBytes: get(1), Goroutines: get(2)}
}
