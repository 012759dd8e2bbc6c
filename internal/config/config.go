package config

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/skiffmq/skiff/internal/protocol"
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
// "127.0.0.1:9876;10.0.0.2:9876" with protocol.ParseAddrList (the one address-list parser); a bad
// entry's error wraps ErrBadAddr and names it. An empty or blank list gives an empty slice and no
// error.
func ParseAddrList(s string) ([]string, error) {
	out, err := protocol.ParseAddrList(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadAddr, err)
	}
	return out, nil
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
