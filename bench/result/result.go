// Package result is the JSON contract between bench/loadgen, which writes
// one Result per run with -json, and bench/run, which reads them into its
// tables. It holds only the types: no logic, no dependencies.
package result

// Latency is a latency distribution in microseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// ConnLatency is the connect (dial to CONNACK) latency in microseconds.
type ConnLatency struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Result is loadgen's -json output (snake_case field names).
type Result struct {
	Scenario  string `json:"scenario"`
	Transport string `json:"transport"`
	Version   int    `json:"version"`
	QoS       int    `json:"qos"`
	Size      int    `json:"size"`
	Pubs      int    `json:"pubs"`
	Subs      int    `json:"subs"`
	Pairs     int    `json:"pairs"`
	Conns     int    `json:"conns"`

	DurationS     float64 `json:"duration_s"`
	Sent          uint64  `json:"sent"`
	Delivered     uint64  `json:"delivered"`
	Expected      uint64  `json:"expected"`
	SentRate      float64 `json:"sent_rate"`
	DeliveredRate float64 `json:"delivered_rate"`
	Lost          uint64  `json:"lost"`
	Duplicated    uint64  `json:"duplicated"`
	Reordered     uint64  `json:"reordered"`
	Unacked       uint64  `json:"unacked"`
	LatencyUS     Latency `json:"latency_us"`

	ConnRate      float64     `json:"conn_rate"`
	ConnLatencyUS ConnLatency `json:"conn_latency_us"`

	BrokerCPUUSPerMsg     float64 `json:"broker_cpu_us_per_msg"`
	BrokerRSSBytes        int64   `json:"broker_rss_bytes"`
	BrokerRSSPerConnBytes float64 `json:"broker_rss_per_conn_bytes"`
	LoadgenCPUPct         float64 `json:"loadgen_cpu_pct"`

	Errors  uint64 `json:"errors"`
	Failure string `json:"failure,omitempty"`
}
