package protocol

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ErrBadAddr is returned (wrapped) by ParseAddrList for an entry that is not host:port.
var ErrBadAddr = errors.New("bad address")

// ParseAddrList parses RocketMQ's ";"-separated address lists ("127.0.0.1:9876;10.0.0.2:9876"),
// the one parser of name-server lists for the broker, the name server and the SDK. Spaces around
// entries are trimmed and empty entries skipped. Every entry must be host:port with a non-empty
// host free of spaces, commas and quotes (route bodies carry addresses as text) and a numeric
// port in 1..65535; the error names the bad entry. A blank list gives no entries and no error.
func ParseAddrList(s string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if err := CheckAddr(part); err != nil {
			return nil, err
		}
		out = append(out, part)
	}
	return out, nil
}

// CheckAddr checks one host:port address (see ParseAddrList).
func CheckAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%w %q: want host:port", ErrBadAddr, a)
	}
	if host == "" {
		return fmt.Errorf("%w %q: empty host", ErrBadAddr, a)
	}
	if strings.ContainsAny(host, " \t,\"") {
		return fmt.Errorf("%w %q: bad host", ErrBadAddr, a)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%w %q: port must be a number in 1..65535", ErrBadAddr, a)
	}
	return nil
}
