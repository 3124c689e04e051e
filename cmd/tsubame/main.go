// Command tsubame runs the Tsubame MQTT broker.
//
//	tsubame [-config FILE] [-pprof ADDR] [-version]
//	tsubame passwd [-c | -D] FILE USER        manage a password file
//
// Without -config the broker runs with config.Default(): one TCP listener on
// 127.0.0.1:1883 open to anonymous clients, the admin API on
// 127.0.0.1:18083. SIGINT/SIGTERM shut down gracefully (a second signal
// exits at once), SIGHUP reloads the password and ACL files.
//
// This package only wires things together: configuration belongs to
// engine/config, the broker to engine, password files to engine/auth.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/tsubame-mq/tsubame/engine"
	"github.com/tsubame-mq/tsubame/engine/auth"
	"github.com/tsubame-mq/tsubame/engine/config"
)

// version is set at build time: go build -ldflags "-X main.version=v1.0.0".
var version = ""

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, sigs, newEngine))
}

// newEngine adapts engine.New to the broker interface serve drives.
func newEngine(cfg *config.Config, log *slog.Logger) (broker, error) {
	b, err := engine.New(cfg, log)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// run is the whole command with its inputs made explicit for tests; it
// returns the exit code: 0 success, 1 error, 2 bad command line.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, sigs <-chan os.Signal, newBroker newBrokerFunc) int {
	if len(args) > 0 && args[0] == "passwd" {
		return auth.PasswdMain(args[1:], stdin, stdout, stderr)
	}
	fs := flag.NewFlagSet("tsubame", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config `file` (default: built-in defaults, loopback only)")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this `address` (overrides the pprof key)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: tsubame [-config FILE] [-pprof ADDR] [-version]\n       tsubame passwd [-c | -D] FILE USER\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tsubame: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *showVersion {
		fmt.Fprintf(stdout, "tsubame %s %s %s/%s\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	}

	cfg, err := loadConfig(*configPath, *pprofAddr)
	if err != nil {
		fmt.Fprintf(stderr, "tsubame: %s\n", oneLine(err))
		return 1
	}
	log := cfg.NewLogger(stderr)
	if *configPath == "" {
		log.Info("no -config given: using built-in defaults")
	}
	return serve(cfg, log, newBroker, sigs)
}

func loadConfig(path, pprofAddr string) (*config.Config, error) {
	var cfg *config.Config
	if path == "" {
		cfg = config.Default()
	} else {
		var err error
		if cfg, err = config.Load(path); err != nil {
			return nil, err
		}
	}
	if pprofAddr != "" {
		cfg.Pprof = pprofAddr
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// oneLine joins a multi-line error (Validate reports every problem) into
// one line for the terminal and the log.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
