package engine

import (
	"testing"

	"github.com/panjf2000/gnet/v2"

	"github.com/tsubame-mq/tsubame/codec"
)

// A panic in one connection's code closes that connection only; the
// worker keeps serving others.
func TestPanicContainedToOneConnection(t *testing.T) {
	b, w, lis := benchBroker(t)
	_, seen := memClient(t, b, w, lis, "sub", codec.V311, "t", 0)
	pub, _ := memClient(t, b, w, lis, "pub", codec.V311, "", 0)
	bad, _ := memClient(t, b, w, lis, "bad", codec.V311, "", 0)

	var action gnet.Action
	func() {
		defer bad.contain(w, &action)
		panic("simulated bug")
	}()
	if action != gnet.Close || bad.state != stateClosing {
		t.Fatalf("action %v, state %d: the panicking connection must be closed", action, bad.state)
	}
	msg := codec.AppendPublish(nil, codec.V311, false, 0, false, "t", 0, nil, []byte("still here"))
	pub.input(w, msg)
	w.flushTurn()
	if seen.pubs != 1 {
		t.Fatalf("healthy subscriber got %d messages, want 1", seen.pubs)
	}
}
