package codec

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var fuzzVersions = [4]byte{0, V31, V311, V5}

func fuzzVersion(v byte) byte { return fuzzVersions[v%4] }

func versionIndex(v byte) byte {
	for i, x := range fuzzVersions {
		if x == v {
			return byte(i)
		}
	}
	return 0
}

// checkRoundTrip re-encodes a decoded packet and decodes it again: it must
// succeed and give the same packet, and Size must match the encoding.
func checkRoundTrip(t *testing.T, server bool, version byte, p *Packet) {
	t.Helper()
	out := Encode(nil, p)
	if s := Size(p); s != len(out) {
		t.Fatalf("Size %d != len(Encode) %d for %v", s, len(out), p.Type)
	}
	v := version
	if p.Type == CONNECT {
		v = 0
	}
	var q Packet
	n, err := decodeDir(server, out, v, 0, &q)
	if err != nil || n != len(out) {
		t.Fatalf("re-decode of % x: n=%d/%d err=%v", out, n, len(out), err)
	}
	if !packetsEqual(p, &q) {
		t.Fatalf("round trip differs\n got %+v\nwant %+v", normalize(q), normalize(*p))
	}
}

// FuzzDecode: any bytes at any protocol level must never panic; a decoded
// packet must survive encode + decode unchanged.
func FuzzDecode(f *testing.F) {
	for _, g := range goldens {
		f.Add(g.in, versionIndex(g.version), g.server)
	}
	f.Fuzz(func(t *testing.T, data []byte, vi byte, server bool) {
		v := fuzzVersion(vi)
		var p Packet
		n, err := decodeDir(server, data, v, 0, &p)
		if err != nil {
			if n != 0 {
				t.Fatalf("n=%d with error %v", n, err)
			}
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error", err)
			}
			return
		}
		if n == 0 {
			return
		}
		if n > len(data) {
			t.Fatalf("n=%d > len %d", n, len(data))
		}
		checkRoundTrip(t, server, v, &p)
	})
}

// FuzzDecodeSplit feeds each input in two reads, like a packet spanning two
// OnTraffic calls: the first read must be "need more" or give exactly what
// decoding the whole input gives.
func FuzzDecodeSplit(f *testing.F) {
	for _, g := range goldens {
		f.Add(g.in, versionIndex(g.version), g.server, uint16(len(g.in)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, vi byte, server bool, cut uint16) {
		v := fuzzVersion(vi)
		c := int(cut) % (len(data) + 1)
		var whole, part Packet
		n, err := decodeDir(server, data, v, 0, &whole)
		n1, err1 := decodeDir(server, data[:c], v, 0, &part)
		if n1 == 0 && err1 == nil {
			if n > c && err == nil || err != nil || n == 0 {
				return // need more is right: the packet does not fit in the first read
			}
			t.Fatalf("prefix %d holds the whole %d-byte packet but decoded as need-more", c, n)
		}
		if err1 != nil {
			if err1 != err {
				t.Fatalf("prefix error %v, whole error %v", err1, err)
			}
			return
		}
		if err != nil || n1 != n || !packetsEqual(&whole, &part) {
			t.Fatalf("prefix decode n=%d differs from whole n=%d err=%v", n1, n, err)
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz from the golden table when
// CODEC_WRITE_CORPUS=1 (the files are committed; the test is otherwise a
// check that every golden case has its seed file).
func TestWriteFuzzCorpus(t *testing.T) {
	write := os.Getenv("CODEC_WRITE_CORPUS") == "1"
	for i, g := range goldens {
		seeds := map[string]string{
			"FuzzDecode": fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbyte(%d)\nbool(%v)\n", g.in, versionIndex(g.version), g.server),
			"FuzzDecodeSplit": fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbyte(%d)\nbool(%v)\nuint16(%d)\n",
				g.in, versionIndex(g.version), g.server, len(g.in)/2),
		}
		for target, body := range seeds {
			path := filepath.Join("testdata", "fuzz", target, fmt.Sprintf("golden-%03d", i))
			if write {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, []byte(body)) {
				t.Errorf("%s out of date (run with CODEC_WRITE_CORPUS=1)", path)
			}
		}
	}
}
