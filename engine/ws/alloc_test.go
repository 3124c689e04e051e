//go:build !race

package ws

import "testing"

func TestReadFramesZeroAlloc(t *testing.T) {
	c := testConn(Config{})
	in := clientFrame(0x82, make([]byte, 1024))
	ping := clientFrame(0x89, []byte("ka"))
	mqtt := make([]byte, 0, 4096)
	ctrl := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(1000, func() {
		_, m, ct, _, err := c.ReadFrames(in, mqtt[:0], ctrl[:0])
		if err != nil || len(m) != 1024 || len(ct) != 0 {
			t.Fatal("bad read")
		}
		_, _, ct, _, _ = c.ReadFrames(ping, mqtt[:0], ctrl[:0])
		if len(ct) != 4 {
			t.Fatal("no pong")
		}
	})
	if allocs != 0 {
		t.Fatalf("ReadFrames allocates %v per run", allocs)
	}
}

func TestAppendFrameZeroAlloc(t *testing.T) {
	c := testConn(Config{})
	payload := make([]byte, 1024)
	dst := make([]byte, 0, 2048)
	allocs := testing.AllocsPerRun(1000, func() {
		dst = c.AppendFrame(dst[:0], payload)
		dst = c.AppendClose(dst[:0], 1000, "bye")
	})
	if allocs != 0 {
		t.Fatalf("AppendFrame allocates %v per run", allocs)
	}
}

// Compression borrows everything from pools and keeps no context, so it
// does not allocate in steady state either.
func TestAppendFrameCompressedZeroAlloc(t *testing.T) {
	payload := []byte("sensors/building-1/floor/2/temperature {\"t\":21.5,\"h\":40,\"unit\":\"C\"} sensors/building-1")
	for _, p := range []deflateParams{{ok: true, serverNoCtx: true}, {ok: true, serverNoCtx: true, serverBits: 10}} {
		c := testConn(Config{})
		c.pmd = p
		dst := make([]byte, 0, 2048)
		dst = c.AppendFrame(dst[:0], payload)
		if dst[0] != 0xc2 {
			t.Fatalf("not compressed")
		}
		allocs := testing.AllocsPerRun(1000, func() {
			dst = c.AppendFrame(dst[:0], payload)
		})
		if allocs != 0 {
			t.Fatalf("%+v: compressed AppendFrame allocates %v per run", p, allocs)
		}
		c.Release()
	}
}
