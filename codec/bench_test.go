package codec

import (
	"fmt"
	"testing"
)

// publishV5WithProps is a 64-byte QoS 1 PUBLISH with six v5 properties.
func publishV5WithProps() []byte {
	props := Properties{Present: 1<<PropPayloadFormat | 1<<PropMessageExpiry | 1<<PropTopicAlias | 1<<PropContentType,
		PayloadFormat: 1, MessageExpiry: 60, TopicAlias: 2, ContentType: []byte("text/plain"),
		User: []UserProperty{{[]byte("k"), []byte("v")}, {[]byte("k2"), []byte("v2")}}}
	return AppendPublish(nil, V5, false, 1, false, "sensors/1/temp", 7, &props, make([]byte, 64))
}

func BenchmarkDecode(b *testing.B) {
	type bc struct {
		name    string
		version byte
		in      []byte
	}
	var cases []bc
	for _, size := range []int{64, 1024} {
		payload := make([]byte, size)
		cases = append(cases,
			bc{fmt.Sprintf("type=publish/v=4/qos=0/payload=%db", size), V311, AppendPublish(nil, V311, false, 0, false, "sensors/1/temp", 0, nil, payload)},
			bc{fmt.Sprintf("type=publish/v=4/qos=1/payload=%db", size), V311, AppendPublish(nil, V311, false, 1, false, "sensors/1/temp", 7, nil, payload)},
			bc{fmt.Sprintf("type=publish/v=5/qos=1/props=none/payload=%db", size), V5, AppendPublish(nil, V5, false, 1, false, "sensors/1/temp", 7, nil, payload)},
		)
	}
	pv5 := publishV5WithProps()
	cases = append(cases,
		bc{"type=publish/v=5/qos=1/props=6/payload=64b", V5, pv5},
		bc{"type=puback/v=4", V311, AppendAck(nil, V311, PUBACK, 7, 0, nil)},
		bc{"type=puback/v=5", V5, AppendAck(nil, V5, PUBACK, 7, 0, nil)},
		bc{"type=subscribe/v=5/filters=2", V5, Encode(nil, &Packet{Type: SUBSCRIBE, Version: V5, PacketID: 1,
			Subscriptions: []Subscription{{Filter: []byte("a/+/c")}, {Filter: []byte("$share/g/b/#"), QoS: 1}}})},
		bc{"type=connect/v=5", 0, Encode(nil, &Packet{Type: CONNECT, Version: V5, CleanStart: true, KeepAlive: 30,
			ClientID: []byte("client-0001"), UsernameFlag: true, Username: []byte("user"), PasswordFlag: true, Password: []byte("secret"),
			Props: Properties{Present: 1<<PropSessionExpiry | 1<<PropReceiveMaximum, SessionExpiry: 3600, ReceiveMaximum: 100}})},
	)
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var p Packet
			b.ReportAllocs()
			b.SetBytes(int64(len(c.in)))
			for b.Loop() {
				if _, err := Decode(c.in, c.version, 0, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendPublish(b *testing.B) {
	props := Properties{Present: 1<<PropTopicAlias | 1<<PropMessageExpiry, TopicAlias: 3, MessageExpiry: 60,
		SubscriptionIDs: []uint32{4}}
	for _, size := range []int{64, 1024} {
		payload := make([]byte, size)
		for _, c := range []struct {
			v     byte
			qos   byte
			props *Properties
		}{{V311, 0, nil}, {V311, 1, nil}, {V5, 1, nil}, {V5, 1, &props}} {
			np := 0
			if c.props != nil {
				np = 3
			}
			b.Run(fmt.Sprintf("v=%d/qos=%d/props=%d/payload=%db", c.v, c.qos, np, size), func(b *testing.B) {
				dst := make([]byte, 0, 2048)
				b.ReportAllocs()
				b.SetBytes(int64(PublishSize(c.v, c.qos, "sensors/1/temp", c.props, size)))
				for b.Loop() {
					dst = AppendPublish(dst[:0], c.v, false, c.qos, false, "sensors/1/temp", 7, c.props, payload)
				}
			})
		}
	}
}

func BenchmarkAppendAck(b *testing.B) {
	for _, v := range []byte{V311, V5} {
		b.Run(fmt.Sprintf("type=puback/v=%d", v), func(b *testing.B) {
			dst := make([]byte, 0, 64)
			b.ReportAllocs()
			b.SetBytes(4)
			for b.Loop() {
				dst = AppendAck(dst[:0], v, PUBACK, 7, 0, nil)
			}
		})
	}
}

func BenchmarkValidTopicFilter(b *testing.B) {
	for _, f := range []string{"a/b/c", "sensors/+/temperature/#", "$share/group/a/+/c"} {
		b.Run("filter="+f, func(b *testing.B) {
			fb := []byte(f)
			b.ReportAllocs()
			b.SetBytes(int64(len(fb)))
			for b.Loop() {
				if ValidTopicFilter(fb) != nil {
					b.Fatal("invalid")
				}
			}
		})
	}
}
