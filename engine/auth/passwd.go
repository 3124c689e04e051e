package auth

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

const passwdUsage = `usage: tsubame passwd [-c | -D] FILE USER
       tsubame passwd [-c] -b FILE USER PASSWORD
 -c  create FILE, overwriting an existing one
 -b  batch mode: take the password from the command line
 -D  delete USER from FILE
Without -b the password is asked twice on the terminal (or read as two lines
from stdin when it is not a terminal). Hashes are PBKDF2-SHA512 "$7$", the
mosquitto 2.x format. FILE is rewritten atomically with mode 0600.
`

// errPasswd marks an input error of PasswdMain (bad name, empty or
// mismatched password), printed as "Error: ...".
var errPasswd = errors.New("tsubame passwd")

// usageError is a command-line misuse; the usage text follows it.
type usageError string

func (e usageError) Error() string { return string(e) }

// PasswdMain implements `tsubame passwd [-c] [-b] [-D] FILE USER [PASSWORD]`
// like mosquitto_passwd and returns the process exit code. Other lines of
// FILE (comments, other users) are kept as they are.
func PasswdMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if err := passwd(args, stdin, stdout); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "Error: %v\n%s", err, passwdUsage)
			return 2
		}
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	return 0
}

func usageErr(format string, args ...any) error {
	return usageError(fmt.Sprintf(format, args...))
}

func passwd(args []string, stdin io.Reader, stdout io.Writer) error {
	var create, batch, del bool
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		for _, c := range a[1:] {
			switch c {
			case 'c':
				create = true
			case 'b':
				batch = true
			case 'D':
				del = true
			case 'h':
				return usageErr("help requested")
			default:
				return usageErr("unknown option -%c", c)
			}
		}
	}
	pos := args[i:]
	switch {
	case create && del:
		return usageErr("-c and -D cannot be used together")
	case del && batch:
		return usageErr("-D takes no password")
	case batch && len(pos) != 3:
		return usageErr("-b wants FILE USER PASSWORD")
	case !batch && len(pos) != 2:
		return usageErr("want FILE USER")
	}
	file, user := pos[0], pos[1]
	if err := checkUsername(user); err != nil {
		return err
	}

	var lines []string
	if !create {
		data, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("reading password file (use -c to create it): %w", err)
		}
		lines = strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if len(data) == 0 {
			lines = nil
		}
	}
	idx := -1
	for n, l := range lines {
		if u, _, ok := strings.Cut(l, ":"); ok && u == user {
			idx = n
			break
		}
	}
	if del {
		if idx < 0 {
			return fmt.Errorf("user %q not found in %s", user, file)
		}
		lines = append(lines[:idx], lines[idx+1:]...)
		return writeFileAtomic(file, lines)
	}

	var password string
	if batch {
		password = pos[2]
	} else {
		var err error
		if password, err = promptPassword(stdin, stdout); err != nil {
			return err
		}
	}
	if password == "" {
		return fmt.Errorf("%w: empty password", errPasswd)
	}
	if len(password) > 65535 {
		return fmt.Errorf("%w: password longer than 65535 bytes", errPasswd) // MQTT binary data limit [MQTT-1.5.6]
	}
	enc, err := HashPassword(password)
	if err != nil {
		return err
	}
	entry := user + ":" + enc
	if idx >= 0 {
		lines[idx] = entry
	} else {
		lines = append(lines, entry)
	}
	return writeFileAtomic(file, lines)
}

// checkUsername rejects names the password file cannot hold or that no MQTT
// client could send: empty, ':' (the separator), control characters, invalid
// UTF-8 [MQTT-1.5.4-1], over 65535 bytes [MQTT-1.5.4].
func checkUsername(u string) error {
	switch {
	case u == "":
		return fmt.Errorf("%w: empty username", errPasswd)
	case len(u) > 65535:
		return fmt.Errorf("%w: username longer than 65535 bytes", errPasswd)
	case !utf8.ValidString(u):
		return fmt.Errorf("%w: username is not valid UTF-8", errPasswd) // [MQTT-1.5.4-1]
	case strings.Contains(u, ":"):
		return fmt.Errorf("%w: username must not contain ':'", errPasswd)
	case strings.IndexFunc(u, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: username must not contain control characters", errPasswd)
	case u[0] == '#':
		return fmt.Errorf("%w: username must not start with '#' (a comment in the file)", errPasswd)
	}
	return nil
}

// promptPassword asks for the password twice. On a terminal echo is off;
// otherwise two lines are read from stdin.
func promptPassword(stdin io.Reader, stdout io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		p1, err := readNoEcho(f, stdout, "Password: ")
		if err != nil {
			return "", err
		}
		p2, err := readNoEcho(f, stdout, "Reenter password: ")
		if err != nil {
			return "", err
		}
		if p1 != p2 {
			return "", fmt.Errorf("%w: passwords do not match", errPasswd)
		}
		return p1, nil
	}
	br := bufio.NewReader(stdin)
	read := func(prompt string) (string, error) {
		fmt.Fprint(stdout, prompt)
		l, err := br.ReadString('\n')
		if err != nil && (err != io.EOF || l == "") {
			return "", fmt.Errorf("%w: reading password: %v", errPasswd, err)
		}
		fmt.Fprintln(stdout)
		return strings.TrimRight(l, "\r\n"), nil
	}
	p1, err := read("Password: ")
	if err != nil {
		return "", err
	}
	p2, err := read("Reenter password: ")
	if err != nil {
		return "", err
	}
	if p1 != p2 {
		return "", fmt.Errorf("%w: passwords do not match", errPasswd)
	}
	return p1, nil
}

// writeFileAtomic writes lines to path through a temporary file in the same
// directory and a rename, so a reader (or a crash) sees the old or the new
// file, never a partial one. The file mode is 0600: it holds password hashes.
func writeFileAtomic(path string, lines []string) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	w := bufio.NewWriter(tmp)
	for _, l := range lines {
		w.WriteString(l)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	return nil
}
