package auth

import (
	"bufio"
	"bytes"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Password hash formats written by mosquitto_passwd (mosquitto 2.x,
// src/password_mosq.c and apps/mosquitto_passwd):
//
//	$6$<b64 salt>$<b64 sha512(password || salt)>             mosquitto <= 1.6 ("-H sha512")
//	$7$<iterations>$<b64 salt>$<b64 pbkdf2-sha512(64 bytes)> mosquitto 2.x default ("-H sha512-pbkdf2")
//
// Base64 is the standard alphabet with padding (OpenSSL BIO_f_base64, no newlines).
const (
	hashIterations = 101 // mosquitto 2.x PW_DEFAULT_ITERATIONS
	saltLen        = 12  // mosquitto SALT_LEN
	hashLen        = 64  // sha512 output size, mosquitto's pbkdf2 key length

	// maxIterations bounds the work one login can cost: a hostile or corrupt
	// password file line must not turn CONNECT into a CPU sink.
	maxIterations = 1_000_000
	// maxEncodedLen bounds the encoded hash parsed from a file line.
	maxEncodedLen = 1024
)

// Sentinel errors. File errors are wrapped with the file name and line number.
var (
	ErrPasswordFile  = errors.New("auth: invalid password file")
	ErrACLFile       = errors.New("auth: invalid ACL file")
	ErrHashFormat    = errors.New("auth: malformed password hash")
	ErrHashAlgorithm = errors.New("auth: unsupported password hash algorithm (want $6$ or $7$)")
)

type hashKind byte

const (
	hashSHA512       hashKind = 6
	hashPBKDF2SHA512 hashKind = 7
)

// passwordHash is a parsed encoded hash; parsing happens once at load time.
type passwordHash struct {
	kind       hashKind
	iterations int
	salt       []byte
	hash       []byte
}

// HashPassword returns password hashed the way mosquitto 2.x's
// mosquitto_passwd does by default: "$7$101$" + base64(12-byte random salt) +
// "$" + base64(PBKDF2-HMAC-SHA512, 64 bytes).
func HashPassword(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: reading random salt: %w", err)
	}
	return encodeHash(password, salt, hashIterations)
}

func encodeHash(password string, salt []byte, iterations int) (string, error) {
	key, err := pbkdf2.Key(sha512.New, password, salt, iterations, hashLen)
	if err != nil {
		return "", fmt.Errorf("auth: pbkdf2: %w", err)
	}
	enc := base64.StdEncoding
	return "$7$" + strconv.Itoa(iterations) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key), nil
}

// VerifyPassword reports whether password matches encoded, a "$7$" or "$6$"
// hash as written by mosquitto_passwd. A malformed or unknown encoding never
// matches. The final comparison is constant-time.
func VerifyPassword(encoded string, password []byte) bool {
	h, err := parseHash(encoded)
	if err != nil {
		return false
	}
	return h.verify(password)
}

func parseHash(encoded string) (passwordHash, error) {
	var h passwordHash
	if len(encoded) > maxEncodedLen {
		return h, fmt.Errorf("%w: longer than %d bytes", ErrHashFormat, maxEncodedLen)
	}
	if len(encoded) < 3 || encoded[0] != '$' || encoded[2] != '$' {
		return h, ErrHashAlgorithm
	}
	parts := strings.Split(encoded[3:], "$")
	switch encoded[1] {
	case '6':
		if len(parts) != 2 {
			return h, fmt.Errorf("%w: $6$ wants $6$salt$hash", ErrHashFormat)
		}
		h.kind = hashSHA512
	case '7':
		if len(parts) != 3 {
			return h, fmt.Errorf("%w: $7$ wants $7$iterations$salt$hash", ErrHashFormat)
		}
		n, err := strconv.Atoi(parts[0])
		if err != nil || n < 1 || n > maxIterations {
			return h, fmt.Errorf("%w: iterations %q not in 1..%d", ErrHashFormat, parts[0], maxIterations)
		}
		h.kind, h.iterations = hashPBKDF2SHA512, n
		parts = parts[1:]
	default:
		return h, ErrHashAlgorithm
	}
	var err error
	if h.salt, err = base64.StdEncoding.DecodeString(parts[0]); err != nil || len(h.salt) == 0 {
		return h, fmt.Errorf("%w: bad base64 salt", ErrHashFormat)
	}
	if h.hash, err = base64.StdEncoding.DecodeString(parts[1]); err != nil || len(h.hash) != hashLen {
		return h, fmt.Errorf("%w: hash is not base64 of %d bytes", ErrHashFormat, hashLen)
	}
	return h, nil
}

func (h *passwordHash) compute(password []byte) []byte {
	switch h.kind {
	case hashSHA512:
		d := sha512.New()
		d.Write(password)
		d.Write(h.salt)
		return d.Sum(nil)
	case hashPBKDF2SHA512:
		// crypto/pbkdf2 only errors in FIPS-140-only mode for short inputs.
		key, err := pbkdf2.Key(sha512.New, string(password), h.salt, h.iterations, hashLen)
		if err != nil {
			return nil
		}
		return key
	}
	return nil
}

func (h *passwordHash) verify(password []byte) bool {
	got := h.compute(password)
	return len(got) == len(h.hash) && subtle.ConstantTimeCompare(got, h.hash) == 1
}

// dummyHash is verified against when the user is unknown, so that an unknown
// user costs as much time as a wrong password and names cannot be probed.
var dummyHash = func() passwordHash {
	return passwordHash{kind: hashPBKDF2SHA512, iterations: hashIterations, salt: make([]byte, saltLen), hash: make([]byte, hashLen)}
}()

// loadPasswordFile parses a mosquitto password file: one "username:hash" per
// line; lines whose first non-blank character is '#' and blank lines are
// ignored (mosquitto.conf(5), password_file).
func loadPasswordFile(path string) (map[string]passwordHash, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPasswordFile, err)
	}
	return parsePasswordFile(path, data)
}

func parsePasswordFile(name string, data []byte) (map[string]passwordHash, error) {
	users := make(map[string]passwordHash)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), " \t\r")
		trimmed := strings.TrimLeft(text, " \t")
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		user, enc, ok := strings.Cut(text, ":")
		if !ok {
			return nil, fmt.Errorf("%w: %s:%d: want username:hash", ErrPasswordFile, name, line)
		}
		if user == "" {
			return nil, fmt.Errorf("%w: %s:%d: empty username", ErrPasswordFile, name, line)
		}
		if _, dup := users[user]; dup {
			return nil, fmt.Errorf("%w: %s:%d: duplicate user %q", ErrPasswordFile, name, line, user)
		}
		h, err := parseHash(enc)
		if err != nil {
			return nil, fmt.Errorf("%w: %s:%d: user %q: %w", ErrPasswordFile, name, line, user, err)
		}
		users[user] = h
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s:%d: %w", ErrPasswordFile, name, line+1, err)
	}
	return users, nil
}
