package ws

import (
	"fmt"
	"testing"
)

func BenchmarkReadFrames(b *testing.B) {
	for _, size := range []int{64, 16 << 10} {
		b.Run(fmt.Sprintf("payload=%s", sizeName(size)), func(b *testing.B) {
			c := testConn(Config{})
			in := clientFrame(0x82, make([]byte, size))
			mqtt := make([]byte, 0, size)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				n, _, _, _, err := c.ReadFrames(in, mqtt[:0], nil)
				if err != nil || n != len(in) {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("payload=64b/deflate=on", func(b *testing.B) {
		msg := refDeflate([][]byte{make([]byte, 64)}, true)[0]
		c := deflateConn(deflateParams{clientNoCtx: true}, Config{})
		in := clientFrame(0xc2, msg)
		mqtt := make([]byte, 0, 1024)
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, _, _, err := c.ReadFrames(in, mqtt[:0], nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAppendFrame(b *testing.B) {
	for _, deflate := range []bool{false, true} {
		for _, size := range []int{64, 16 << 10} {
			b.Run(fmt.Sprintf("deflate=%v/payload=%s", onOff(deflate), sizeName(size)), func(b *testing.B) {
				c := testConn(Config{})
				c.pmd = deflateParams{ok: deflate, serverNoCtx: true}
				defer c.Release()
				payload := make([]byte, size)
				for i := range payload {
					payload[i] = "mqtt/topic/level "[i%17]
				}
				dst := make([]byte, 0, size+16)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					dst = c.AppendFrame(dst[:0], payload)
				}
			})
		}
	}
}

func sizeName(n int) string {
	if n >= 1024 {
		return fmt.Sprintf("%dk", n>>10)
	}
	return fmt.Sprintf("%db", n)
}

func onOff(v bool) string {
	if v {
		return "on"
	}
	return "off"
}
