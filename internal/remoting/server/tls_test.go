package server

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
	"github.com/skiffmq/skiff/internal/testutil"
)

func TestServerTLSModes(t *testing.T) {
	certPath, keyPath, clientTLS := testutil.SelfSignedCert(t, t.TempDir())
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
	try := func(cli *rpc.Client, addr string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := cli.Invoke(ctx, addr, remoting.NewRequest(codeEcho, map[string]string{"v": "x"}, []byte("body")))
		if err == nil && (resp.Code != remoting.Success || string(resp.Body) != "body") {
			t.Fatalf("echo answered %d %q", resp.Code, resp.Body)
		}
		return err
	}
	for _, mode := range []string{TLSPermissive, TLSEnforcing} {
		t.Run(mode, func(t *testing.T) {
			f := startServer(t, Config{TLSMode: mode, TLS: serverTLS}, func(s *Server) { s.Handle(codeEcho, PoolClient, echo) })
			secure := rpc.New(rpc.Config{TLS: clientTLS, DialTimeout: 5 * time.Second})
			defer secure.Close()
			if err := try(secure, f.srv.Addr()); err != nil {
				t.Fatalf("TLS client: %v", err)
			}
			err := try(f.cli, f.srv.Addr())
			switch {
			case mode == TLSPermissive && err != nil:
				t.Fatalf("plain client in permissive mode: %v", err)
			case mode == TLSEnforcing && err == nil:
				t.Fatal("a plain client was served in enforcing mode")
			}
			// A TLS client that does not trust the certificate is refused in both modes.
			untrusting := rpc.New(rpc.Config{TLS: &tls.Config{}, DialTimeout: 5 * time.Second})
			defer untrusting.Close()
			if err := try(untrusting, f.srv.Addr()); err == nil {
				t.Fatal("a client that does not trust the certificate connected")
			}
		})
	}
}
