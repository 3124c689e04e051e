//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package auth

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), ioctlGetTermios)
	return err == nil
}

// readNoEcho prints prompt and reads one line from the terminal f with echo
// turned off, restoring the terminal state afterwards.
func readNoEcho(f *os.File, out io.Writer, prompt string) (string, error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return "", err
	}
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	noEcho.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &noEcho); err != nil {
		return "", err
	}
	defer unix.IoctlSetTermios(fd, ioctlSetTermios, old)
	fmt.Fprint(out, prompt)
	l, err := bufio.NewReader(f).ReadString('\n')
	fmt.Fprintln(out)
	if err != nil && (err != io.EOF || l == "") {
		return "", fmt.Errorf("%w: reading password: %v", errPasswd, err)
	}
	return strings.TrimRight(l, "\r\n"), nil
}
