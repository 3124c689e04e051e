package router

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// client is the test Subscriber: a pointer type, compared by identity.
type client struct{ id string }

func (c *client) SubscriberID() string { return c.id }

// TestDataDriven runs router/testdata/*.txt. Format (one command a line, '#'
// starts a comment, fields separated by spaces):
//
//	case <name>                      start a subtest with a fresh Router and Retained
//	sub <client> <filter> <qos> [nl] [rap] [rh=N] [id=N] [-> new|existed]
//	unsub <client> <filter> -> true|false
//	pub <topic> [from <client>] -> <delivery>...
//	    delivery = <client>:<qos>[:rap][:ids=1,2][:shared]; order does not matter
//	count <n>
//	walk -> <filter>=<subscribers>...
//	retain <topic> <payload>         payload "-" is empty (deletes)
//	rget <topic> -> <payload>|nil
//	rmatch <filter> -> <topic>...
//	rlen <n>
//	topicmatch <filter> <topic> -> true|false   (MatchTopic)
func TestDataDriven(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) { runFile(t, file) })
	}
}

type dataCase struct {
	name  string
	lines []string // "lineno: text"
}

func runFile(t *testing.T, file string) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []*dataCase
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if name, ok := strings.CutPrefix(line, "case "); ok {
			cases = append(cases, &dataCase{name: name})
			continue
		}
		if len(cases) == 0 {
			t.Fatalf("%s:%d: command before the first case", file, ln)
		}
		c := cases[len(cases)-1]
		c.lines = append(c.lines, fmt.Sprintf("%d:%s", ln, line))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, ret := New(), NewRetained()
			clients := map[string]*client{}
			cl := func(id string) *client {
				if clients[id] == nil {
					clients[id] = &client{id: id}
				}
				return clients[id]
			}
			var m Matches
			for _, l := range c.lines {
				lnS, line, _ := strings.Cut(l, ":")
				at := file + ":" + lnS
				cmd, want, hasWant := strings.Cut(line, "->")
				args := strings.Fields(cmd)
				wantF := strings.Fields(want)
				switch args[0] {
				case "sub":
					if len(args) < 4 {
						t.Fatalf("%s: sub needs client, filter, qos", at)
					}
					q, err := strconv.Atoi(args[3])
					if err != nil {
						t.Fatalf("%s: bad qos: %v", at, err)
					}
					o := Options{QoS: byte(q)}
					for _, a := range args[4:] {
						switch {
						case a == "nl":
							o.NoLocal = true
						case a == "rap":
							o.RetainAsPublished = true
						case strings.HasPrefix(a, "rh="):
							v, _ := strconv.Atoi(a[3:])
							o.RetainHandling = byte(v)
						case strings.HasPrefix(a, "id="):
							v, _ := strconv.Atoi(a[3:])
							o.SubID = uint32(v)
						default:
							t.Fatalf("%s: unknown option %q", at, a)
						}
					}
					existed := r.Subscribe(cl(args[1]), args[2], o)
					if hasWant {
						if w := wantF[0] == "existed"; w != existed {
							t.Errorf("%s: %s: existed = %v, want %v", at, line, existed, w)
						}
					}
				case "unsub":
					got := r.Unsubscribe(cl(args[1]), args[2])
					if hasWant && strconv.FormatBool(got) != wantF[0] {
						t.Errorf("%s: %s: got %v", at, line, got)
					}
				case "pub":
					var pubr Subscriber
					if len(args) == 4 && args[2] == "from" {
						pubr = cl(args[3])
					}
					r.Match([]byte(args[1]), pubr, &m)
					got := formatDeliveries(flat(&m))
					slices.Sort(wantF)
					if !slices.Equal(got, wantF) {
						t.Errorf("%s: %s\n got: %v\nwant: %v", at, line, got, wantF)
					}
				case "count":
					if n, _ := strconv.Atoi(args[1]); r.Count() != n {
						t.Errorf("%s: Count() = %d, want %d", at, r.Count(), n)
					}
				case "walk":
					var got []string
					r.Walk(func(f string, n int) bool { got = append(got, fmt.Sprintf("%s=%d", f, n)); return true })
					slices.Sort(got)
					slices.Sort(wantF)
					if !slices.Equal(got, wantF) {
						t.Errorf("%s: walk\n got: %v\nwant: %v", at, got, wantF)
					}
				case "retain":
					p := []byte(args[2])
					if args[2] == "-" {
						p = nil
					}
					ret.Set((&Message{Topic: args[1], Payload: p, Retain: true}).Clone())
				case "rget":
					got := "nil"
					if msg := ret.Get(args[1]); msg != nil {
						got = string(msg.Payload)
					}
					if got != wantF[0] {
						t.Errorf("%s: %s: got %s", at, line, got)
					}
				case "rmatch":
					var got []string
					ret.Match(args[1], func(msg *Message) bool { got = append(got, msg.Topic); return true })
					slices.Sort(got)
					slices.Sort(wantF)
					if !slices.Equal(got, wantF) {
						t.Errorf("%s: %s\n got: %v\nwant: %v", at, line, got, wantF)
					}
				case "rlen":
					if n, _ := strconv.Atoi(args[1]); ret.Len() != n {
						t.Errorf("%s: Len() = %d, want %d", at, ret.Len(), n)
					}
				case "topicmatch":
					if got := MatchTopic(args[1], args[2]); strconv.FormatBool(got) != wantF[0] {
						t.Errorf("%s: %s: got %v", at, line, got)
					}
				default:
					t.Fatalf("%s: unknown command %q", at, args[0])
				}
			}
		})
	}
}

func formatDeliveries(ds []Delivery) []string {
	out := []string{}
	for _, d := range ds {
		s := fmt.Sprintf("%s:%d", d.Sub.SubscriberID(), d.QoS)
		if d.RetainAsPublished {
			s += ":rap"
		}
		if len(d.SubIDs) > 0 {
			ids := slices.Clone(d.SubIDs)
			slices.Sort(ids)
			var parts []string
			for _, id := range ids {
				parts = append(parts, strconv.Itoa(int(id)))
			}
			s += ":ids=" + strings.Join(parts, ",")
		}
		if d.Shared {
			s += ":shared"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}
