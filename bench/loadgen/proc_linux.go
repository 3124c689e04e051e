package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// fdMargin is the descriptors kept for stdio, the Go runtime's epoll and
// pipes, /proc reads and the odd extra listener.
const fdMargin = 64

// raiseFDLimit lifts the soft RLIMIT_NOFILE to the hard limit and returns
// the resulting soft limit.
func raiseFDLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = raised.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			lim = raised
		}
	}
	return lim.Cur, nil
}

// checkFDLimit refuses a run whose connections cannot fit in the open-files
// limit (or in -max-conns), before any connection is made.
func checkFDLimit(c *Config) error {
	limit, err := raiseFDLimit()
	if err != nil {
		return err
	}
	return fdCheck(c.connections(), limit, c.MaxConns)
}

func fdCheck(conns int, limit uint64, maxConns int) error {
	need := uint64(conns) + fdMargin
	if need > limit {
		return fmt.Errorf("%w: %d connections need %d file descriptors; the limit here is %d (raise it with ulimit -n, or lower the connection count)",
			errFDLimit, conns, need, limit)
	}
	if maxConns > 0 && conns > maxConns {
		return fmt.Errorf("%w: %d connections exceed -max-conns %d", errFDLimit, conns, maxConns)
	}
	return nil
}

// clockTicks is USER_HZ, the unit of utime/stime in /proc/PID/stat; Linux
// fixes it at 100 for user space on every architecture Go supports.
const clockTicks = 100

// procSample is a process's CPU time and resident set at one moment.
type procSample struct {
	cpu time.Duration
	rss int64 // bytes
}

// readProc reads /proc/PID/stat (utime, stime) and /proc/PID/status (VmRSS).
func readProc(pid int) (procSample, error) {
	var s procSample
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return s, fmt.Errorf("broker pid %d: %w", pid, err)
	}
	// Fields after the parenthesised command name, which may hold spaces.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("broker pid %d: malformed /proc stat", pid)
	}
	f := bytes.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime 15.
	if len(f) < 13 {
		return s, fmt.Errorf("broker pid %d: short /proc stat", pid)
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("broker pid %d: unparsable utime/stime in /proc stat", pid)
	}
	s.cpu = time.Duration(ut+st) * time.Second / clockTicks
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return s, fmt.Errorf("broker pid %d: %w", pid, err)
	}
	for _, line := range bytes.Split(status, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			kb := bytes.Fields(v)
			if len(kb) > 0 {
				n, err := strconv.ParseInt(string(kb[0]), 10, 64)
				if err == nil {
					s.rss = n * 1024
				}
			}
		}
	}
	return s, nil
}

// selfCPU is this process's user+system time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func numCPU() int { return runtime.NumCPU() }
