package client_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/skiffmq/skiff/client"
)

func TestNameServersExplicit(t *testing.T) {
	t.Setenv(client.EnvNameServer, "9.9.9.9:9876") // ignored when a list is given
	cases := []struct {
		in   []string
		want []string
	}{
		{[]string{"127.0.0.1:9876"}, []string{"127.0.0.1:9876"}},
		{[]string{"127.0.0.1:9876;127.0.0.2:9876"}, []string{"127.0.0.1:9876", "127.0.0.2:9876"}},
		{[]string{" 127.0.0.1:9876 ; ", "10.0.0.1:1;;10.0.0.2:65535"}, []string{"127.0.0.1:9876", "10.0.0.1:1", "10.0.0.2:65535"}},
		{[]string{"[::1]:9876"}, []string{"[::1]:9876"}},
		{[]string{"", "127.0.0.1:9876"}, []string{"127.0.0.1:9876"}},
	}
	for _, c := range cases {
		got, err := client.NameServers(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("NameServers(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestNameServersFromEnv(t *testing.T) {
	t.Setenv(client.EnvNameServer, "127.0.0.1:9876; 127.0.0.1:9877")
	for _, in := range [][]string{nil, {}, {""}, {"  "}} {
		got, err := client.NameServers(in)
		if err != nil || !slices.Equal(got, []string{"127.0.0.1:9876", "127.0.0.1:9877"}) {
			t.Errorf("NameServers(%q) with NAMESRV_ADDR = %q, %v", in, got, err)
		}
	}
}

func TestNameServersErrors(t *testing.T) {
	t.Setenv(client.EnvNameServer, "")
	if _, err := client.NameServers(nil); !errors.Is(err, client.ErrNoNameServer) || !strings.Contains(err.Error(), client.EnvNameServer) {
		t.Errorf("NameServers(nil) without NAMESRV_ADDR = %v; want ErrNoNameServer naming %s", err, client.EnvNameServer)
	}
	bad := []string{"127.0.0.1", "127.0.0.1:", ":9876", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:-1",
		"127.0.0.1:abc", "host:port:extra", "127.0.0.1:9876;nonsense"}
	for _, b := range bad {
		_, err := client.NameServers([]string{b})
		if !errors.Is(err, client.ErrNoNameServer) {
			t.Errorf("NameServers(%q) = %v, want ErrNoNameServer", b, err)
			continue
		}
		if !strings.Contains(err.Error(), "the name server list") {
			t.Errorf("NameServers(%q) error %q does not say where the entry came from", b, err)
		}
	}
	t.Setenv(client.EnvNameServer, "127.0.0.1:9876;bogus")
	_, err := client.NameServers(nil)
	if !errors.Is(err, client.ErrNoNameServer) || !strings.Contains(err.Error(), `"bogus"`) || !strings.Contains(err.Error(), client.EnvNameServer) {
		t.Errorf("bad NAMESRV_ADDR entry: %v", err)
	}
}
