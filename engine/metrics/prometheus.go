package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tsubame-mq/tsubame/codec"
)

// collector is a prometheus.Collector that reads the atomics at scrape time.
// Nothing on the hot path touches client_golang: no CounterVec, no
// WithLabelValues, no label maps.
type collector struct {
	m *Metrics

	connections, connectionsTotal     *prometheus.Desc
	connects, disconnects             *prometheus.Desc
	packetsIn, packetsOut             *prometheus.Desc
	received, delivered, dropped      *prometheus.Desc
	inflight, queued                  *prometheus.Desc
	retained, subscriptions, sessions *prometheus.Desc
	bytesIn, bytesOut                 *prometheus.Desc
	latency, uptime                   *prometheus.Desc
}

// Collector returns a prometheus.Collector for m. Metric names start with
// "tsubame_"; constLabels are added to every metric. Register it on a
// registry together with the Go runtime collectors (the admin server does).
func (m *Metrics) Collector(constLabels prometheus.Labels) prometheus.Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("tsubame_"+name, help, labels, constLabels)
	}
	return &collector{
		m:                m,
		connections:      d("connections", "Open network connections by listener.", "listener", "type", "tls"),
		connectionsTotal: d("connections_opened_total", "Network connections accepted by listener.", "listener", "type", "tls"),
		connects:         d("connects_total", "CONNECT packets answered, by CONNACK reason.", "reason"),
		disconnects:      d("disconnects_total", "Connections closed, by close reason.", "reason"),
		packetsIn:        d("packets_received_total", "Control packets received, by type.", "type"),
		packetsOut:       d("packets_sent_total", "Control packets sent, by type.", "type"),
		received:         d("messages_received_total", "Application messages received from publishers, by QoS.", "qos"),
		delivered:        d("messages_delivered_total", "Messages delivered to subscribers, by QoS.", "qos"),
		dropped:          d("messages_dropped_total", "Messages not delivered, by QoS and reason.", "qos", "reason"),
		inflight:         d("inflight_messages", "QoS 1 and 2 messages awaiting acknowledgement."),
		queued:           d("queued_messages", "Messages waiting in session queues."),
		retained:         d("retained_messages", "Retained messages stored."),
		subscriptions:    d("subscriptions", "Subscriptions, including shared ones."),
		sessions:         d("sessions", "Sessions known to the broker, connected or not."),
		bytesIn:          d("received_bytes_total", "Bytes read from clients."),
		bytesOut:         d("sent_bytes_total", "Bytes written to clients."),
		latency:          d("delivery_latency_seconds", "Time from receiving a PUBLISH to delivering it to a subscriber."),
		uptime:           d("uptime_seconds", "Seconds since the broker started."),
	}
}

// Register registers m's collector on reg with no constant labels.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	return reg.Register(m.Collector(nil))
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.connections, c.connectionsTotal, c.connects, c.disconnects,
		c.packetsIn, c.packetsOut, c.received, c.delivered, c.dropped,
		c.inflight, c.queued, c.retained, c.subscriptions, c.sessions,
		c.bytesIn, c.bytesOut, c.latency, c.uptime,
	} {
		ch <- d
	}
}

var (
	qosLabels  = [3]string{"0", "1", "2"}
	typeLabels = [16]string{"reserved", "connect", "connack", "publish", "puback", "pubrec",
		"pubrel", "pubcomp", "subscribe", "suback", "unsubscribe", "unsuback",
		"pingreq", "pingresp", "disconnect", "auth"}
)

// connackNames labels the CONNACK reason codes a server may send [MQTT-3.2.2.2].
var connackNames = map[codec.ReasonCode]string{
	codec.Success:                    "success",
	codec.UnspecifiedError:           "unspecified_error",
	codec.MalformedPacket:            "malformed_packet",
	codec.ProtocolError:              "protocol_error",
	codec.ImplementationSpecific:     "implementation_specific_error",
	codec.UnsupportedProtocolVersion: "unsupported_protocol_version",
	codec.ClientIDNotValid:           "client_identifier_not_valid",
	codec.BadUsernameOrPassword:      "bad_user_name_or_password",
	codec.NotAuthorized:              "not_authorized",
	codec.ServerUnavailable:          "server_unavailable",
	codec.ServerBusy:                 "server_busy",
	codec.Banned:                     "banned",
	codec.BadAuthenticationMethod:    "bad_authentication_method",
	codec.TopicNameInvalid:           "topic_name_invalid",
	codec.PacketTooLarge:             "packet_too_large",
	codec.QuotaExceeded:              "quota_exceeded",
	codec.PayloadFormatInvalid:       "payload_format_invalid",
	codec.RetainNotSupported:         "retain_not_supported",
	codec.QoSNotSupported:            "qos_not_supported",
	codec.UseAnotherServer:           "use_another_server",
	codec.ServerMoved:                "server_moved",
	codec.ConnectionRateExceeded:     "connection_rate_exceeded",
}

// ConnAckReasonName is the label of a CONNACK reason code, "0xNN" for codes
// without a name.
func ConnAckReasonName(rc codec.ReasonCode) string {
	if n, ok := connackNames[rc]; ok {
		return n
	}
	return "0x" + strconv.FormatUint(uint64(rc)|0x100, 16)[1:]
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	var t Totals
	c.m.Read(&t)
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	for _, l := range c.m.Listeners() {
		tls := strconv.FormatBool(l.TLS)
		gauge(c.connections, l.Current(), l.Name, l.Type, tls)
		counter(c.connectionsTotal, l.Total(), l.Name, l.Type, tls)
	}
	for rc, v := range t.ConnAcks {
		if v != 0 || rc == int(codec.Success) {
			counter(c.connects, v, ConnAckReasonName(codec.ReasonCode(rc)))
		}
	}
	for r, v := range t.Disconnects {
		counter(c.disconnects, v, CloseReason(r).String())
	}
	for ty := 1; ty < 16; ty++ {
		counter(c.packetsIn, t.PacketsIn[ty], typeLabels[ty])
		counter(c.packetsOut, t.PacketsOut[ty], typeLabels[ty])
	}
	for q := 0; q < 3; q++ {
		counter(c.received, t.Received[q], qosLabels[q])
		counter(c.delivered, t.Delivered[q], qosLabels[q])
		for r := range t.Dropped {
			counter(c.dropped, t.Dropped[r][q], qosLabels[q], DropReason(r).String())
		}
	}
	gauge(c.inflight, t.Inflight)
	gauge(c.queued, t.Queued)
	gauge(c.retained, t.Retained)
	gauge(c.subscriptions, t.Subscriptions)
	gauge(c.sessions, t.Sessions)
	counter(c.bytesIn, t.BytesIn)
	counter(c.bytesOut, t.BytesOut)

	var h HistogramSnapshot
	c.m.Latency(&h)
	buckets := make(map[float64]uint64, histBuckets-1)
	var cum uint64
	for i := 0; i < histBuckets-1; i++ {
		cum += h.Counts[i]
		buckets[BucketUpperBound(i)/1e9] = cum
	}
	ch <- prometheus.MustNewConstHistogram(c.latency, h.Count(), float64(h.Sum)/1e9, buckets)
	ch <- prometheus.MustNewConstMetric(c.uptime, prometheus.GaugeValue, c.m.Uptime().Seconds())
}
