package codec

// MaxVarint is the largest value a Variable Byte Integer can carry (4 bytes).
const MaxVarint = 268435455

// AppendVarint appends v as an MQTT Variable Byte Integer [MQTT-1.5.5-1].
// v must be at most MaxVarint; larger values are truncated to 4 bytes.
func AppendVarint(dst []byte, v int) []byte {
	for i := 0; i < 3 && v >= 0x80; i++ {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v&0x7F))
}

// VarintSize is the number of bytes AppendVarint writes for v.
func VarintSize(v int) int {
	switch {
	case v < 1<<7:
		return 1
	case v < 1<<14:
		return 2
	case v < 1<<21:
		return 3
	}
	return 4
}

// readVarint decodes a Variable Byte Integer at b[0:]. n==0 && err==nil: b
// ends inside the integer.
func readVarint(b []byte) (v, n int, err error) {
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, nil
		}
		c := b[i]
		v |= int(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			if i > 0 && c == 0 {
				return 0, 0, ErrMalformedLength // [MQTT-1.5.5-1] not minimal
			}
			return v, i + 1, nil
		}
	}
	return 0, 0, ErrMalformedLength // a 5th byte [MQTT-1.5.5-1]
}
