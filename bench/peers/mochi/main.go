// Command mochi runs mochi-mqtt (github.com/mochi-mqtt/server/v2) as a
// benchmark peer for Tsubame. It owns nothing but the mapping of Tsubame's
// benchmark limits onto mochi's options; it must not tune mochi beyond what a
// user could set, so the comparison stays fair.
//
// It lives in its own Go module so that the main module's go.mod never depends
// on mochi. Build it from this folder: `go build -o /tmp/mochi .`.
//
// How Tsubame's benchmark limits map onto mochi's Capabilities:
//
//	Tsubame / mosquitto              mochi
//	max_inflight_messages 20         ReceiveMaximum 20 (server receive max) and
//	                                 MaximumInflight 20 (cap on the client's)
//	max_queued_messages 1000         MaximumClientWritesPending 1000 (outbound
//	                                 channel length per client: the closest knob;
//	                                 mochi drops QoS 0 writes when it is full)
//	max_packet_size 1048576          MaximumPacketSize 1048576
//	max_keepalive 60                 no equivalent (mochi accepts any keepalive)
//	persistence false                no storage hook is added
//	anonymous                        auth.AllowHook
//	$SYS interval                    SysTopicResendInterval 10 s (mosquitto's default)
//	logging: errors only             slog at LevelError
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

func main() {
	tcpAddr := flag.String("tcp", "127.0.0.1:1883", "TCP listener address")
	wsAddr := flag.String("ws", "", "WebSocket listener address (any path); empty disables it")
	flag.Parse()
	if err := run(*tcpAddr, *wsAddr); err != nil {
		fmt.Fprintln(os.Stderr, "mochi:", err)
		os.Exit(1)
	}
}

func run(tcpAddr, wsAddr string) error {
	caps := mqtt.NewDefaultServerCapabilities()
	caps.ReceiveMaximum = 20
	caps.MaximumInflight = 20
	caps.MaximumClientWritesPending = 1000
	caps.MaximumPacketSize = 1 << 20

	server := mqtt.New(&mqtt.Options{
		Capabilities:           caps,
		SysTopicResendInterval: 10,
		Logger:                 slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err := server.AddHook(new(auth.AllowHook), nil); err != nil {
		return fmt.Errorf("add auth hook: %w", err)
	}
	if err := server.AddListener(listeners.NewTCP(listeners.Config{ID: "tcp", Address: tcpAddr})); err != nil {
		return fmt.Errorf("tcp listener %s: %w", tcpAddr, err)
	}
	if wsAddr != "" {
		if err := server.AddListener(listeners.NewWebsocket(listeners.Config{ID: "ws", Address: wsAddr})); err != nil {
			return fmt.Errorf("websocket listener %s: %w", wsAddr, err)
		}
	}
	if err := server.Serve(); err != nil {
		return fmt.Errorf("serve: %w", err)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	return server.Close()
}
