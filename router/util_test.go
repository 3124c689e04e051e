package router

import (
	"runtime"

	"github.com/cespare/xxhash/v2"
)

func hashString(s string) uint64 { return xxhash.Sum64String(s) }

func runtimeGosched() { runtime.Gosched() }

// flat copies the result of the last Match into one slice.
func flat(m *Matches) []Delivery {
	var ds []Delivery
	for _, p := range m.Chunks() {
		ds = append(ds, p...)
	}
	return ds
}
