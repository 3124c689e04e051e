package auth

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Access is what a client wants to do with a topic.
type Access byte

// Access kinds. mosquitto's ACL file knows read, write, readwrite and deny;
// Subscribe is checked as Read against the topic filter (filter-vs-filter).
const (
	Read      Access = 1
	Write     Access = 2
	Subscribe Access = 4
)

// ACL file semantics follow mosquitto.conf(5) "acl_file" and the 2.1
// acl-file plugin documentation (mosquitto.org/documentation/plugins/acl-file):
//
//   - "#" as first non-blank character: comment.
//   - "topic [read|write|readwrite|deny] <filter>": no access word = readwrite;
//     the filter may contain spaces when the access word is given.
//   - The topic lines before the first "user" line apply to anonymous clients
//     only; "user <name>" (rest of line, spaces allowed: mosquitto issue 88)
//     starts the rules of that user.
//   - "pattern [access] <filter>" applies to every client wherever it stands in
//     the file (mosquitto issue 1906), with %u = username, %c = client id. The
//     substitution must be the whole level (mosquitto.conf(5)); "a/x%u" is
//     rejected here. A pattern without %u/%c is accepted with a warning, as
//     mosquitto does since commit ecb4006 (issue 209).
//   - "Any deny topics are handled before topics that grant read/write access."
//     Here: a deny from any rule that applies to the client (its user section,
//     the anonymous section, or a pattern) wins over every allow.
//   - No matching rule: denied.
//
// Hardening beyond mosquitto (CVE-2017-7650 class): a username or client id
// that is empty or contains '+', '#' or '/' never matches a %u/%c level, and a
// substituted level compares literally, so "user +" gains nothing.

// maxRuleLevels bounds a rule's depth; matching recursion is bounded by it,
// never by the (client-controlled) topic depth.
const maxRuleLevels = 64

// node is one level of a compiled rule trie. Tries are built once per load and
// never mutated afterwards, so readers need no lock.
type node struct {
	lit    map[string]*node // literal levels; nil when none
	plus   *node            // '+'
	hash   *node            // '#': always a leaf
	user   *node            // %u (pattern tries only)
	client *node            // %c (pattern tries only)

	allow Access // union of access granted by rules ending here
	deny  bool   // a deny rule ends here
}

func (n *node) child(level string, pattern bool) *node {
	var p **node
	switch {
	case level == "+":
		p = &n.plus
	case level == "#":
		p = &n.hash
	case pattern && level == "%u":
		p = &n.user
	case pattern && level == "%c":
		p = &n.client
	default:
		if n.lit == nil {
			n.lit = make(map[string]*node)
		}
		c := n.lit[level]
		if c == nil {
			c = &node{}
			n.lit[level] = c
		}
		return c
	}
	if *p == nil {
		*p = &node{}
	}
	return *p
}

// ruleSet is the compiled rules of one section.
type ruleSet struct {
	root    node
	hasDeny bool
	rules   int
}

// aclSet is a parsed ACL file.
type aclSet struct {
	anon     *ruleSet            // rules before the first user line; nil if none
	users    map[string]*ruleSet // per-user rules
	patterns *ruleSet            // pattern rules; nil if none
	rules    int
}

// ruleAccess is a parsed access word; deny is separate from the Access bits.
type ruleAccess struct {
	allow Access
	deny  bool
}

func parseAccessWord(w string) (ruleAccess, bool) {
	switch w {
	case "read":
		return ruleAccess{allow: Read}, true
	case "write":
		return ruleAccess{allow: Write}, true
	case "readwrite":
		return ruleAccess{allow: Read | Write}, true
	case "deny":
		return ruleAccess{deny: true}, true
	}
	return ruleAccess{}, false
}

func loadACLFile(path string, warn func(msg string, args ...any)) (*aclSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrACLFile, err)
	}
	return parseACL(path, data, warn)
}

// parseACL compiles an ACL file. name is used in error messages only.
func parseACL(name string, data []byte, warn func(msg string, args ...any)) (*aclSet, error) {
	set := &aclSet{users: make(map[string]*ruleSet)}
	var cur *ruleSet // nil: anonymous section
	inUser := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	line := 0
	for sc.Scan() {
		line++
		text := strings.Trim(sc.Text(), " \t\r")
		if text == "" || text[0] == '#' {
			continue
		}
		kw, rest, _ := strings.Cut(text, " ")
		rest = strings.TrimLeft(rest, " \t")
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%w: %s:%d: %s", ErrACLFile, name, line, fmt.Sprintf(format, args...))
		}
		switch kw {
		case "user":
			if rest == "" {
				return nil, fail("user without a name")
			}
			inUser = true
			cur = set.users[rest]
			if cur == nil {
				cur = &ruleSet{}
				set.users[rest] = cur
			}
		case "topic", "pattern":
			acc := ruleAccess{allow: Read | Write}
			filter := rest
			if w, after, _ := strings.Cut(rest, " "); after != "" {
				if a, ok := parseAccessWord(w); ok {
					acc, filter = a, strings.TrimLeft(after, " \t")
				}
			} else if _, ok := parseAccessWord(w); ok {
				return nil, fail("%s %s without a topic", kw, w)
			}
			pattern := kw == "pattern"
			if err := checkRuleFilter(filter, pattern); err != nil {
				return nil, fail("%s %q: %v", kw, filter, err)
			}
			var rs *ruleSet
			switch {
			case pattern:
				if set.patterns == nil {
					set.patterns = &ruleSet{}
				}
				rs = set.patterns
				if !strings.Contains(filter, "%u") && !strings.Contains(filter, "%c") && warn != nil {
					warn("ACL pattern without %u or %c applies to every client", "file", name, "line", line, "pattern", filter)
				}
			case inUser:
				rs = cur
			default:
				if set.anon == nil {
					set.anon = &ruleSet{}
				}
				rs = set.anon
			}
			rs.add(filter, acc, pattern)
			set.rules++
		default:
			return nil, fail("unknown keyword %q (want topic, user or pattern)", kw)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s:%d: %w", ErrACLFile, name, line+1, err)
	}
	return set, nil
}

// checkRuleFilter validates a rule's topic filter like a SUBSCRIBE filter:
// non-empty [MQTT-4.7.3-1], '#' alone and last [MQTT-4.7.1-2], '+' alone in
// its level [MQTT-4.7.1-3], no U+0000 [MQTT-4.7.3-2]. In patterns %u and %c
// must fill a whole level.
func checkRuleFilter(f string, pattern bool) error {
	if f == "" {
		return fmt.Errorf("empty topic filter") // [MQTT-4.7.3-1]
	}
	if strings.IndexByte(f, 0) >= 0 {
		return fmt.Errorf("topic filter contains U+0000") // [MQTT-4.7.3-2]
	}
	levels := strings.Count(f, "/") + 1
	if levels > maxRuleLevels {
		return fmt.Errorf("more than %d levels", maxRuleLevels)
	}
	for i := 0; ; i++ {
		level, rest, more := strings.Cut(f, "/")
		if strings.Contains(level, "#") && (level != "#" || more) {
			return fmt.Errorf("'#' must be a whole level and the last one") // [MQTT-4.7.1-2]
		}
		if strings.Contains(level, "+") && level != "+" {
			return fmt.Errorf("'+' must be a whole level") // [MQTT-4.7.1-3]
		}
		if pattern && (strings.Contains(level, "%u") || strings.Contains(level, "%c")) && level != "%u" && level != "%c" {
			return fmt.Errorf("%%u or %%c must be a whole level")
		}
		if !more {
			return nil
		}
		f = rest
	}
}

func (rs *ruleSet) add(filter string, acc ruleAccess, pattern bool) {
	n := &rs.root
	for {
		level, rest, more := strings.Cut(filter, "/")
		n = n.child(level, pattern)
		if !more {
			break
		}
		filter = rest
	}
	n.allow |= acc.allow
	if acc.deny {
		n.deny = true
		rs.hasDeny = true
	}
	rs.rules++
}

// subject is who is asking; it lives on the caller's stack.
type subject struct {
	username, clientID string
	userOK, clientOK   bool // usable for %u / %c substitution
}

// substitutable reports whether v may stand for a %u/%c level: a non-empty
// value without wildcard or separator characters. Anything else would widen
// the pattern ("user #", "client a/b").
func substitutable(v string) bool {
	return v != "" && strings.IndexAny(v, "+#/") < 0
}

// verdict accumulates what the matching rules grant.
type verdict struct {
	allow Access
	deny  bool
	need  Access // stop early once allow covers need and no deny can follow
	stop  bool   // true when the rule set has no deny: the first sufficient allow decides
}

func (v *verdict) add(n *node) {
	v.allow |= n.allow
	if n.deny {
		v.deny = true
	}
}

func (v *verdict) done() bool {
	return v.deny || (v.stop && v.allow&v.need == v.need)
}

// nextLevel splits topic at pos: the level and the start of the next level
// (len(topic)+1 when this is the last one).
func nextLevel(topic string, pos int) (string, int) {
	rest := topic[pos:]
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[:i], pos + i + 1
	}
	return rest, len(topic) + 1
}

// matchName collects the rules under n whose filters match the topic name
// levels starting at pos (pos > len(topic): no levels left).
// Recursion depth is bounded by the trie depth (<= maxRuleLevels).
func (n *node) matchName(topic string, pos int, s *subject, v *verdict) {
	if pos > len(topic) {
		v.add(n)
		if n.hash != nil {
			v.add(n.hash) // "sport/#" matches "sport" [MQTT-4.7.1-2]
		}
		return
	}
	level, next := nextLevel(topic, pos)
	// Wildcards and substitutions at the first level never match a topic
	// starting with '$' [MQTT-4.7.2-1]: $SYS only by explicit rules.
	wild := pos != 0 || len(level) == 0 || level[0] != '$'
	if wild {
		if n.hash != nil {
			v.add(n.hash)
			if v.done() {
				return
			}
		}
		if n.plus != nil {
			n.plus.matchName(topic, next, s, v)
			if v.done() {
				return
			}
		}
		if n.user != nil && s.userOK && level == s.username {
			n.user.matchName(topic, next, s, v)
			if v.done() {
				return
			}
		}
		if n.client != nil && s.clientOK && level == s.clientID {
			n.client.matchName(topic, next, s, v)
			if v.done() {
				return
			}
		}
	}
	if c := n.lit[level]; c != nil {
		c.matchName(topic, next, s, v)
	}
}

// matchFilter collects the rules under n whose filters cover the subscription
// filter levels starting at pos: every topic the subscription can match is
// matched by the rule. Rule "a/#" covers "a/+/b" and "a"; rule "a/+" does not
// cover "a/#"; a rule literal level covers only the same literal.
func (n *node) matchFilter(filter string, pos int, s *subject, v *verdict) {
	if pos > len(filter) {
		v.add(n)
		if n.hash != nil {
			v.add(n.hash)
		}
		return
	}
	level, next := nextLevel(filter, pos)
	wild := pos != 0 || len(level) == 0 || level[0] != '$' // [MQTT-4.7.2-1]
	if wild && n.hash != nil {
		v.add(n.hash) // a rule '#' covers whatever is left, '#' included
		if v.done() {
			return
		}
	}
	switch level {
	case "#":
		return // only a rule '#' covers a subscription '#'
	case "+":
		if n.plus != nil {
			n.plus.matchFilter(filter, next, s, v)
		}
		return
	}
	if wild {
		if n.plus != nil {
			n.plus.matchFilter(filter, next, s, v)
			if v.done() {
				return
			}
		}
		if n.user != nil && s.userOK && level == s.username {
			n.user.matchFilter(filter, next, s, v)
			if v.done() {
				return
			}
		}
		if n.client != nil && s.clientOK && level == s.clientID {
			n.client.matchFilter(filter, next, s, v)
			if v.done() {
				return
			}
		}
	}
	if c := n.lit[level]; c != nil {
		c.matchFilter(filter, next, s, v)
	}
}

func (rs *ruleSet) match(topic string, filter bool, s *subject, v *verdict) {
	if rs == nil || v.done() {
		return
	}
	if filter {
		rs.root.matchFilter(topic, 0, s, v)
	} else {
		rs.root.matchName(topic, 0, s, v)
	}
}
