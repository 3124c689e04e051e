package codec

import (
	"errors"
	"testing"
)

func TestValidUTF8(t *testing.T) {
	cases := []struct {
		name string
		in   string
		err  error
	}{
		{"ascii", "abc", nil},
		{"empty", "", nil},
		{"two byte", "é", nil},
		{"four byte", "\U0001F600", nil},
		{"BOM kept [MQTT-1.5.4-3]", "\uFEFFa", nil},
		{"U+0000 [MQTT-1.5.4-2]", "a\x00", ErrNullCharacter},
		{"surrogate U+D800 [MQTT-1.5.4-1]", "\xED\xA0\x80", ErrInvalidUTF8},
		{"surrogate U+DFFF [MQTT-1.5.4-1]", "\xED\xBF\xBF", ErrInvalidUTF8},
		{"overlong slash [MQTT-1.5.4-1]", "\xC0\xAF", ErrInvalidUTF8},
		{"overlong NUL [MQTT-1.5.4-1]", "\xC0\x80", ErrInvalidUTF8},
		{"truncated sequence [MQTT-1.5.4-1]", "\xE2\x82", ErrInvalidUTF8},
		{"above U+10FFFF [MQTT-1.5.4-1]", "\xF4\x90\x80\x80", ErrInvalidUTF8},
		{"lone continuation [MQTT-1.5.4-1]", "\x80", ErrInvalidUTF8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := ValidUTF8([]byte(c.in)); !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
		})
	}
}

func TestValidTopicName(t *testing.T) {
	cases := []struct {
		name string
		in   string
		err  error
	}{
		{"simple", "a/b/c", nil},
		{"slash only", "/", nil},
		{"empty levels", "a//b", nil},
		{"dollar", "$SYS/x", nil},
		{"space", "a b", nil},
		{"unicode", "日本/語", nil},
		{"empty [MQTT-4.7.3-1]", "", ErrTopicEmpty},
		{"plus [MQTT-4.7.1-1]", "a/+", ErrTopicWildcard},
		{"hash [MQTT-3.3.2-2]", "a/#", ErrTopicWildcard},
		{"hash inside level [MQTT-3.3.2-2]", "a#b", ErrTopicWildcard},
		{"NUL [MQTT-1.5.4-2]", "a\x00b", ErrNullCharacter},
		{"bad UTF-8 [MQTT-1.5.4-1]", "a\xFF", ErrInvalidUTF8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := ValidTopicName([]byte(c.in)); !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
		})
	}
}

func TestValidTopicFilter(t *testing.T) {
	cases := []struct {
		name string
		in   string
		err  error
	}{
		{"exact", "a/b", nil},
		{"hash alone", "#", nil},
		{"plus alone", "+", nil},
		{"plus levels", "+/+/+", nil},
		{"plus then hash", "a/+/#", nil},
		{"leading slash hash", "/#", nil},
		{"empty levels", "a//b", nil},
		{"shared", "$share/g/a/+", nil},
		{"shared hash", "$share/g/#", nil},
		{"shared unicode group", "$share/グ/x", nil},
		{"share prefix without slash is plain", "$sharex/+", nil},
		{"empty [MQTT-4.7.3-1]", "", ErrFilterEmpty},
		{"hash not last [MQTT-4.7.1-2]", "a/#/b", ErrFilterMultiLevel},
		{"hash after chars [MQTT-4.7.1-2]", "a#", ErrFilterMultiLevel},
		{"hash before chars [MQTT-4.7.1-2]", "#a", ErrFilterMultiLevel},
		{"plus after chars [MQTT-4.7.1-3]", "a+", ErrFilterSingleLevel},
		{"plus before chars [MQTT-4.7.1-3]", "+a/b", ErrFilterSingleLevel},
		{"plus in middle [MQTT-4.7.1-3]", "a/b+c/d", ErrFilterSingleLevel},
		{"empty share name [MQTT-4.8.2-1]", "$share//a", ErrShareNameEmpty},
		{"share name only [MQTT-4.8.2-1]", "$share/", ErrShareNameEmpty},
		{"share name with plus [MQTT-4.8.2-2]", "$share/g+/a", ErrShareNameInvalid},
		{"share name with hash [MQTT-4.8.2-2]", "$share/#/a", ErrShareNameInvalid},
		{"share name without filter [MQTT-4.8.2-2]", "$share/g", ErrShareNameInvalid},
		{"share name with empty filter [MQTT-4.8.2-2]", "$share/g/", ErrShareNameInvalid},
		{"shared inner filter invalid [MQTT-4.7.1-2]", "$share/g/a#", ErrFilterMultiLevel},
		{"NUL [MQTT-1.5.4-2]", "a/\x00", ErrNullCharacter},
		{"bad UTF-8 [MQTT-1.5.4-1]", "a/\xED\xA0\x80", ErrInvalidUTF8},
		{"bad UTF-8 in share name [MQTT-1.5.4-1]", "$share/\xFF/a", ErrInvalidUTF8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := ValidTopicFilter([]byte(c.in)); !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
		})
	}
}

func TestIsShared(t *testing.T) {
	g, f, ok := IsShared([]byte("$share/grp/a/b"))
	if !ok || string(g) != "grp" || string(f) != "a/b" {
		t.Fatalf("got %q %q %v", g, f, ok)
	}
	if _, _, ok := IsShared([]byte("a/b")); ok {
		t.Fatal("plain filter reported shared")
	}
}
