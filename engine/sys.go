package engine

import (
	"time"

	"github.com/tsubame-mq/tsubame/engine/metrics"
	"github.com/tsubame-mq/tsubame/router"
)

// sysLoop publishes the $SYS values every interval as retained QoS 0
// messages from the broker itself, so a client subscribing to $SYS/# gets
// the latest values at once. Clients never match them through wildcards at
// the first level [MQTT-4.7.2-1]; once an ACL file is loaded only ACL-allowed
// users read them, like any topic.
func (b *Broker) sysLoop(every time.Duration, stop <-chan struct{}) {
	tk := time.NewTicker(every)
	defer tk.Stop()
	var vals []metrics.SysValue
	for {
		select {
		case <-stop:
			return
		case now := <-tk.C:
			vals = b.metrics.SysTopics(now, vals[:0])
			b.sys.run(func(w *worker) {
				for _, v := range vals {
					m := &router.Message{Topic: v.Topic, Payload: []byte(v.Value), Retain: true}
					b.publishMessage(w, m, 0, nil)
				}
			})
		}
	}
}
