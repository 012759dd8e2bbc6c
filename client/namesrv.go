package client

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// EnvNameServer is the environment variable read when no name server is configured.
const EnvNameServer = "NAMESRV_ADDR"

// NameServers returns the name server addresses from addrs (each entry may join several with
// ';'), or from NAMESRV_ADDR when addrs is empty. Each must be ip:port.
func NameServers(addrs []string) ([]string, error) {
	s := strings.Join(addrs, ";")
	src := "the name server list"
	if strings.Trim(s, "; \t") == "" {
		s, src = os.Getenv(EnvNameServer), EnvNameServer
	}
	var out []string
	for _, a := range strings.Split(s, ";") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			return nil, fmt.Errorf("%w: %q in %s is not ip:port", ErrNoNameServer, a, src)
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			return nil, fmt.Errorf("%w: %q in %s has a bad port", ErrNoNameServer, a, src)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: pass name servers in the options or set %s", ErrNoNameServer, EnvNameServer)
	}
	return out, nil
}
