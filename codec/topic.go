package codec

import (
	"bytes"
	"unicode/utf8"
)

// ValidUTF8 reports whether s is a well-formed MQTT UTF-8 string: valid UTF-8
// without surrogates or overlong forms [MQTT-1.5.4-1] and without U+0000
// [MQTT-1.5.4-2] (3.1.1: MQTT-1.5.3-1, MQTT-1.5.3-2).
func ValidUTF8(s []byte) error {
	// Fast path: both scans are word-at-a-time in the standard library.
	if utf8.Valid(s) && bytes.IndexByte(s, 0) < 0 {
		return nil
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == 0 {
				return ErrNullCharacter // [MQTT-1.5.4-2]
			}
			i++
			continue
		}
		// DecodeRune rejects surrogates and overlong forms with size 1.
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			return ErrInvalidUTF8 // [MQTT-1.5.4-1]
		}
		i += size
	}
	return nil
}

// ValidTopicName checks a PUBLISH topic name: at least one character
// [MQTT-4.7.3-1], no wildcard characters [MQTT-4.7.1-1] [MQTT-3.3.2-2], and
// the UTF-8 rules of ValidUTF8 [MQTT-1.5.4-1] [MQTT-1.5.4-2]. One pass.
func ValidTopicName(t []byte) error {
	if len(t) == 0 {
		return ErrTopicEmpty // [MQTT-4.7.3-1]
	}
	for i := 0; i < len(t); {
		c := t[i]
		if c < utf8.RuneSelf {
			switch c {
			case 0:
				return ErrNullCharacter // [MQTT-1.5.4-2]
			case '+', '#':
				return ErrTopicWildcard // [MQTT-4.7.1-1] [MQTT-3.3.2-2]
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(t[i:])
		if r == utf8.RuneError && size == 1 {
			return ErrInvalidUTF8 // [MQTT-1.5.4-1]
		}
		i += size
	}
	return nil
}

const sharePrefix = "$share/"

// IsShared reports whether f is a shared subscription filter
// ($share/{ShareName}/{filter}) and returns its share name and inner filter.
// It does not validate them; ValidTopicFilter does.
func IsShared(f []byte) (group, filter []byte, ok bool) {
	if len(f) < len(sharePrefix) || string(f[:len(sharePrefix)]) != sharePrefix {
		return nil, nil, false
	}
	rest := f[len(sharePrefix):]
	for i, c := range rest {
		if c == '/' {
			return rest[:i], rest[i+1:], true
		}
	}
	return rest, nil, true
}

// ValidTopicFilter checks a SUBSCRIBE/UNSUBSCRIBE topic filter: at least one
// character [MQTT-4.7.3-1]; '#' only as the whole last level [MQTT-4.7.1-2];
// '+' only as a whole level [MQTT-4.7.1-3]; the UTF-8 rules of ValidUTF8. A
// filter starting with "$share/" is a shared subscription: its share name
// must be non-empty [MQTT-4.8.2-1], must not contain '+' or '#', and must be
// followed by '/' and a valid filter [MQTT-4.8.2-2]. Shared syntax is applied
// at every protocol level, so the router sees one meaning of "$share/".
func ValidTopicFilter(f []byte) error {
	if len(f) == 0 {
		return ErrFilterEmpty // [MQTT-4.7.3-1]
	}
	if group, inner, ok := IsShared(f); ok {
		if len(group) == 0 {
			return ErrShareNameEmpty // [MQTT-4.8.2-1]
		}
		for _, c := range group {
			if c == '+' || c == '#' {
				return ErrShareNameInvalid // [MQTT-4.8.2-2]
			}
		}
		if len(inner) == 0 {
			return ErrShareNameInvalid // [MQTT-4.8.2-2] no "/" + filter after the name
		}
		if err := ValidUTF8(group); err != nil {
			return err
		}
		f = inner
	}
	levelStart := 0
	for i := 0; i < len(f); {
		c := f[i]
		if c < utf8.RuneSelf {
			switch c {
			case 0:
				return ErrNullCharacter // [MQTT-1.5.4-2]
			case '/':
				levelStart = i + 1
			case '#':
				if i != levelStart || i != len(f)-1 {
					return ErrFilterMultiLevel // [MQTT-4.7.1-2]
				}
			case '+':
				if i != levelStart || (i+1 < len(f) && f[i+1] != '/') {
					return ErrFilterSingleLevel // [MQTT-4.7.1-3]
				}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(f[i:])
		if r == utf8.RuneError && size == 1 {
			return ErrInvalidUTF8 // [MQTT-1.5.4-1]
		}
		i += size
	}
	return nil
}
