//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package auth

import (
	"errors"
	"io"
	"os"
)

func isTerminal(*os.File) bool { return false }

func readNoEcho(*os.File, io.Writer, string) (string, error) {
	return "", errors.New("no terminal support on this platform")
}
