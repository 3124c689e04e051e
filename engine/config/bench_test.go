package config

import (
	"os"
	"testing"
)

// BenchmarkParse measures start-up cost only; config parsing is not on any
// hot path.
func BenchmarkParse(b *testing.B) {
	example, err := os.ReadFile("tsubame.example.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		data []byte
	}{
		{"file=empty", nil},
		{"file=example", example},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.data)))
			for b.Loop() {
				if _, err := Parse(bc.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
