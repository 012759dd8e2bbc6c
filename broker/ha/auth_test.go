package ha

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/auth"
	"github.com/skiffmq/skiff/internal/testutil"
)

var testSecret = []byte("ha-test-cluster-secret-0123")

func startAuthMaster(t *testing.T) (*Master, []byte) {
	t.Helper()
	ms := openStore(t)
	put(t, ms, 50, "secret-body")
	m := NewMaster(MasterConfig{Addr: "127.0.0.1:0", Store: ms, SegmentSize: 128 << 10, HeartbeatInterval: 100 * time.Millisecond,
		Secret: testSecret, HandshakeTimeout: 500 * time.Millisecond})
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m, []byte("secret-body")
}

// readAll reads from c until the master closes it (or 10 s pass, which fails the test).
func readAll(t *testing.T, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the master kept the connection open; read %d bytes", len(got))
	}
	return got
}

func offsetReport(off int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(off))
	return b[:]
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The attack of the issue: eight zero bytes (an offset report) on the HA port. With a secret set
// the peer gets the hello and then a closed connection — no byte of the log.
func TestHAAuthPeerWithoutSecretGetsNoLog(t *testing.T) {
	m, marker := startAuthMaster(t)
	c := dial(t, m.Addr())
	if _, err := c.Write(offsetReport(0)); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, c)
	if len(got) != auth.HAHelloSize || !bytes.HasPrefix(got, []byte("SKHA")) || bytes.Contains(got, marker) {
		t.Fatalf("peer without the secret read %d bytes (want only the %d-byte hello)", len(got), auth.HAHelloSize)
	}
}

func TestHAAuthWrongSecretGetsNoLog(t *testing.T) {
	m, marker := startAuthMaster(t)
	c := dial(t, m.Addr())
	hello := make([]byte, auth.HAHelloSize)
	if _, err := io.ReadFull(c, hello); err != nil {
		t.Fatal(err)
	}
	resp, _, err := auth.HARespond([]byte("not-the-cluster-secret-xyz"), hello)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write(append(resp[:], offsetReport(0)...))
	if got := readAll(t, c); len(got) != 0 || bytes.Contains(got, marker) {
		t.Fatalf("peer with a wrong secret read %d bytes after the hello", len(got))
	}
}

func TestHAAuthReplayedHandshakeGetsNoLog(t *testing.T) {
	m, marker := startAuthMaster(t)
	// Record a legitimate slave's handshake and first report.
	c := dial(t, m.Addr())
	hello := make([]byte, auth.HAHelloSize)
	if _, err := io.ReadFull(c, hello); err != nil {
		t.Fatal(err)
	}
	resp, want, err := auth.HARespond(testSecret, hello)
	if err != nil {
		t.Fatal(err)
	}
	recorded := append(resp[:], offsetReport(0)...)
	if _, err := c.Write(recorded); err != nil {
		t.Fatal(err)
	}
	proof := make([]byte, auth.HAProofSize)
	if _, err := io.ReadFull(c, proof); err != nil {
		t.Fatal(err)
	}
	if err := auth.HACheckProof(want, proof); err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 12)
	if _, err := io.ReadFull(c, hdr); err != nil {
		t.Fatalf("the legitimate slave got no data: %v", err)
	}
	c.Close()
	// Replay it on a new connection.
	r := dial(t, m.Addr())
	if _, err := r.Write(recorded); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, r)
	if len(got) != auth.HAHelloSize || bytes.Contains(got, marker) {
		t.Fatalf("replayed handshake read %d bytes (want only the hello)", len(got))
	}
}

func TestHAAuthSlaveWithSecretReplicates(t *testing.T) {
	m, _ := startAuthMaster(t)
	ss := openStore(t)
	s := NewSlave(SlaveConfig{Store: ss, HeartbeatInterval: 100 * time.Millisecond, RetryInterval: 50 * time.Millisecond, Secret: testSecret})
	s.SetMasterAddr(m.Addr())
	s.Start()
	defer s.Close()
	waitFor(t, "authenticated catch-up", func() bool { return ss.MaxPhyOffset() == m.cfg.Store.MaxPhyOffset() })
}

// A master that does not know the secret cannot feed a slave that has it.
func TestHAAuthSlaveRefusesFakeMaster(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan struct{}, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				h := auth.NewHAHello()
				_, _ = c.Write(h.Bytes[:])
				resp := make([]byte, auth.HAResponseSize)
				if _, err := io.ReadFull(c, resp); err != nil {
					return
				}
				fake, _ := h.Verify([]byte("fake-master-secret-0123456"), resp) // wrong proof
				_, _ = c.Write(fake[:])
				var chunk [12 + 4]byte
				binary.BigEndian.PutUint32(chunk[8:], 4)
				copy(chunk[12:], "evil")
				_, _ = c.Write(chunk[:])
				served <- struct{}{}
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	ss := openStore(t)
	s := NewSlave(SlaveConfig{Store: ss, RetryInterval: 20 * time.Millisecond, Secret: testSecret})
	s.SetMasterAddr(ln.Addr().String())
	s.Start()
	<-served
	<-served // a second attempt: the first session ended without appending
	s.Close()
	if ss.MaxPhyOffset() != 0 {
		t.Fatalf("the slave appended %d bytes from a master without the secret", ss.MaxPhyOffset())
	}
}

// A permissive master serves a TLS slave and a plain slave, both with the secret.
func TestHAPermissiveTLSServesBoth(t *testing.T) {
	certPath, keyPath, clientTLS := testutil.SelfSignedCert(t, t.TempDir())
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	ms := openStore(t)
	put(t, ms, 50, "tls")
	m := NewMaster(MasterConfig{Addr: "127.0.0.1:0", Store: ms, SegmentSize: 128 << 10, HeartbeatInterval: 100 * time.Millisecond,
		Secret: testSecret, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, TLSPermissive: true})
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, cfg := range []*tls.Config{clientTLS, nil} {
		ss := openStore(t)
		s := NewSlave(SlaveConfig{Store: ss, HeartbeatInterval: 100 * time.Millisecond, RetryInterval: 50 * time.Millisecond,
			Secret: testSecret, TLS: cfg})
		s.SetMasterAddr(m.Addr())
		s.Start()
		waitFor(t, fmt.Sprintf("catch-up (TLS %v)", cfg != nil), func() bool { return ss.MaxPhyOffset() == ms.MaxPhyOffset() })
		s.Close()
	}
}
