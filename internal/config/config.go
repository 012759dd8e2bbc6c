package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// ErrUnknownKey is returned (wrapped) by Load when the file holds a key the destination struct
// does not define.
var ErrUnknownKey = errors.New("config: unknown key")

// ErrBadAddr is returned (wrapped) by ParseAddrList for an entry that is not host:port.
var ErrBadAddr = errors.New("config: bad address")

// Validator is implemented by configuration structs that check their own values. Validate should
// return an error naming the offending key and value.
type Validator interface {
	Validate() error
}

// Load decodes the TOML file at path into dst (a pointer to a struct that already holds the
// defaults). Keys in the file that dst does not define are refused with an error naming the key
// and the file. If dst implements Validator, Validate is called after decoding and its error is
// returned wrapped with the file name.
func Load(path string, dst any) error {
	md, err := toml.DecodeFile(path, dst)
	if err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	if err := checkUndecoded(md); err != nil {
		return fmt.Errorf("%w in %s", err, path)
	}
	if v, ok := dst.(Validator); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("config: %s: %w", path, err)
		}
	}
	return nil
}

// Decode is Load for TOML text held in memory; name is used in error messages in place of a file
// name.
func Decode(name, text string, dst any) error {
	md, err := toml.Decode(text, dst)
	if err != nil {
		return fmt.Errorf("config: %s: %w", name, err)
	}
	if err := checkUndecoded(md); err != nil {
		return fmt.Errorf("%w in %s", err, name)
	}
	if v, ok := dst.(Validator); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("config: %s: %w", name, err)
		}
	}
	return nil
}

func checkUndecoded(md toml.MetaData) error {
	und := md.Undecoded()
	if len(und) == 0 {
		return nil
	}
	keys := make([]string, len(und))
	for i, k := range und {
		keys[i] = k.String()
	}
	if len(keys) == 1 {
		return fmt.Errorf("%w %q", ErrUnknownKey, keys[0])
	}
	return fmt.Errorf("%w(s) %q", ErrUnknownKey, strings.Join(keys, ", "))
}

// ParseAddrList parses a ";"-separated list of host:port addresses such as
// "127.0.0.1:9876;10.0.0.2:9876". Spaces around entries are trimmed and empty entries skipped.
// Every entry must be host:port with a numeric port in 1..65535; the error names the bad entry.
// An empty or blank list gives an empty slice and no error.
func ParseAddrList(s string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if err := checkAddr(part); err != nil {
			return nil, err
		}
		out = append(out, part)
	}
	return out, nil
}

func checkAddr(a string) error {
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

// CheckBindAddress accepts an IP address or a host name to listen on ("0.0.0.0" = every
// interface, "127.0.0.1" = this machine only).
func CheckBindAddress(a string) error {
	if a == "" {
		return fmt.Errorf("must not be empty (\"0.0.0.0\" listens on every interface)")
	}
	if strings.ContainsAny(a, " \t/[]") || strings.Contains(a, ":") && net.ParseIP(a) == nil {
		return fmt.Errorf("want an IP address or a host name")
	}
	return nil
}
