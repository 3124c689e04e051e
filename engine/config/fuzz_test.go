package config

import (
	"errors"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, and every
// failure must wrap one of the package's sentinel errors. Seeds live in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte("mqtt:\n  max_qos: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if c != nil {
				t.Fatal("Parse returned a config and an error")
			}
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrInsecure) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		// A config that parsed is valid: validating again changes nothing.
		if err := c.Validate(); err != nil {
			t.Fatalf("second Validate: %v", err)
		}
		for i := range c.Listeners {
			c.AnonymousAllowed(&c.Listeners[i])
		}
	})
}
