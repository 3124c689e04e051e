package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Sentinel errors. Every error from Load, Parse and Validate wraps one of
// them, so callers can tell a typo from an unsafe setting with errors.Is.
var (
	// ErrSyntax: the file is not valid YAML, or a value has the wrong type
	// (a string where a number belongs, a number out of range).
	ErrSyntax = errors.New("config: syntax error")
	// ErrUnknownKey: a key that is not part of the format (usually a typo).
	ErrUnknownKey = errors.New("config: unknown key")
	// ErrInvalid: a value outside its range, or settings that contradict
	// each other, or a file (TLS, password, ACL) that cannot be used.
	ErrInvalid = errors.New("config: invalid value")
	// ErrInsecure: a listener reachable from other hosts would accept
	// anonymous clients without that having been asked for explicitly.
	ErrInsecure = errors.New("config: insecure")
)

// MaxFileSize bounds the config file: anything larger is not a config file.
const MaxFileSize = 4 << 20

// Load reads the YAML file at path over Default, resolves relative file
// names in it (password_file, acl_file, cert, key, ca_cert) against the
// directory of path, and validates the result.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err) // errors.Is(err, fs.ErrNotExist) works
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	c, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.resolvePaths(filepath.Dir(path))
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes YAML over Default and validates the result. Relative file
// names are left relative to the working directory.
func Parse(data []byte) (*Config, error) {
	c, err := decode(data)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// decode applies data on top of Default. Unknown keys are errors.
func decode(data []byte) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrSyntax, MaxFileSize)
	}
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		if errors.Is(err, io.EOF) { // empty file or only comments: all defaults
			return c, nil
		}
		return nil, yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(err)
		}
		line := extra.Line
		if len(extra.Content) > 0 {
			line = extra.Content[0].Line
		}
		return nil, fmt.Errorf("%w: line %d: a second YAML document; the config is one document", ErrSyntax, line)
	}
	return c, nil
}

var (
	unknownFieldRE = regexp.MustCompile(`^line (\d+): field (.+) not found in type config\.(\w+)$`)
	goTypeRE       = regexp.MustCompile(`config\.(\w+)`)
)

// sectionOf names a Go struct of this package as the YAML section it maps.
var sectionOf = map[string]string{
	"Config":   "the top level",
	"Listener": "a listener",
	"MQTT":     "mqtt",
	"Auth":     "auth",
	"Admin":    "admin",
	"Log":      "log",
}

// yamlError turns a yaml.v3 error into one that names YAML keys and
// sections rather than Go types, and wraps ErrUnknownKey or ErrSyntax.
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return fmt.Errorf("%w: %s", ErrSyntax, msg)
	}
	var unknown, syntax []string
	for _, e := range te.Errors {
		if m := unknownFieldRE.FindStringSubmatch(e); m != nil {
			unknown = append(unknown, fmt.Sprintf("line %s: unknown key %q in %s", m[1], m[2], section(m[3])))
			continue
		}
		syntax = append(syntax, goTypeRE.ReplaceAllStringFunc(e, func(s string) string {
			return section(strings.TrimPrefix(s, "config."))
		}))
	}
	switch {
	case len(unknown) > 0 && len(syntax) > 0:
		return fmt.Errorf("%w: %s; %w: %s", ErrUnknownKey, strings.Join(unknown, "; "), ErrSyntax, strings.Join(syntax, "; "))
	case len(unknown) > 0:
		return fmt.Errorf("%w: %s", ErrUnknownKey, strings.Join(unknown, "; "))
	default:
		return fmt.Errorf("%w: %s", ErrSyntax, strings.Join(syntax, "; "))
	}
}

func section(goType string) string {
	if s, ok := sectionOf[goType]; ok {
		return s
	}
	return goType
}

// resolvePaths makes relative file names absolute against dir, so the
// broker finds its files whatever its working directory is.
func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.Auth.PasswordFile)
	abs(&c.Auth.ACLFile)
	for i := range c.Listeners {
		l := &c.Listeners[i]
		abs(&l.Cert)
		abs(&l.Key)
		abs(&l.CACert)
	}
}
