package client

import (
	"fmt"
	"os"
	"strings"

	"github.com/skiffmq/skiff/internal/protocol"
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
	out, err := protocol.ParseAddrList(s)
	if err != nil {
		return nil, fmt.Errorf("%w: in %s: %w", ErrNoNameServer, src, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: pass name servers in the options or set %s", ErrNoNameServer, EnvNameServer)
	}
	return out, nil
}
