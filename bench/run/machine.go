package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Machine describes where the numbers were measured.
type Machine struct {
	Date, Commit, CPUs, CPUModel, Memory, Kernel, Go, Mosquitto, Mochi, Gnet string
}

// CollectMachine reads /proc, `go version`, `mosquitto -h` and the mochi
// module's go.mod. Missing facts read "unknown".
func CollectMachine(root string) *Machine {
	m := &Machine{
		Date:      time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		CPUs:      fmt.Sprint(runtime.NumCPU()),
		CPUModel:  procField("/proc/cpuinfo", "model name"),
		Memory:    procField("/proc/meminfo", "MemTotal"),
		Kernel:    strings.TrimSpace(readOr("/proc/sys/kernel/osrelease")),
		Go:        cmdOut(root, "go", "version"),
		Commit:    cmdOut(root, "git", "rev-parse", "--short", "HEAD"),
		Mosquitto: "not installed",
		Mochi:     requireVersion(filepath.Join(root, "bench", "peers", "mochi", "go.mod"), "github.com/mochi-mqtt/server/v2"),
		Gnet:      requireVersion(filepath.Join(root, "go.mod"), "github.com/panjf2000/gnet/v2"),
	}
	if m.Commit != "unknown" && exec.Command("git", "-C", root, "diff", "--quiet", "HEAD").Run() != nil {
		m.Commit += " with uncommitted changes"
	}
	if p := mosquittoPath(); p != "" {
		// mosquitto -h prints "mosquitto version X" first and exits non-zero.
		out, _ := exec.Command(p, "-h").CombinedOutput()
		m.Mosquitto = strings.TrimSpace(firstLine(string(out)))
	}
	return m
}

// Markdown renders the machine section.
func (m *Machine) Markdown() string {
	return fmt.Sprintf(`| | |
|---|---|
| measured | %s, commit %s |
| CPUs (nproc) | %s |
| CPU model | %s |
| memory | %s |
| kernel | %s |
| Go | %s |
| mosquitto | %s (Debian package) |
| mochi-mqtt | %s |
| gnet | %s |
`, m.Date, m.Commit, m.CPUs, m.CPUModel, m.Memory, m.Kernel, m.Go, m.Mosquitto, m.Mochi, m.Gnet)
}

func readOr(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return string(b)
}

func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func cmdOut(dir, name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func requireVersion(gomod, module string) string {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == module {
			return f[1]
		}
	}
	return "unknown"
}
