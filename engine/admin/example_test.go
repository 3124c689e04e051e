package admin

import (
	"context"
	"fmt"
	"net/http"

	"github.com/tsubame-mq/tsubame/engine/metrics"
)

// The engine's wiring: one Metrics shared with the event loops, the engine
// as Broker, the admin users from the config.
func Example() {
	m := metrics.New(metrics.Config{Version: "0.1.0"})
	m.Start() // rates and the console chart need the 1 s sampler
	defer m.Stop()

	var engine Broker = newFakeBroker(3) // the real engine implements Broker
	users := map[string]string{"admin": "changeme"}
	s := New(engine, m, Options{
		Address:      "127.0.0.1:0", // config admin.address; default DefaultAddress
		Authenticate: func(u, p string) bool { return users[u] == p && p != "" },
		AdminUsers:   []string{"admin"},
	})
	if err := s.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer s.Shutdown(context.Background())

	req, _ := http.NewRequest("GET", "http://"+s.Addr().String()+"/api/v1/clients", nil)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		fmt.Println("anonymous:", resp.StatusCode)
		resp.Body.Close()
	}
	req.SetBasicAuth("admin", "changeme")
	resp, err = http.DefaultClient.Do(req)
	if err == nil {
		fmt.Println("admin:", resp.StatusCode)
		resp.Body.Close()
	}
	// Output:
	// anonymous: 401
	// admin: 200
}
