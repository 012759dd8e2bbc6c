package controller

import (
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/skiffmq/skiff/internal/testutil"
)

func TestControllerAuthStream(t *testing.T) {
	secret := []byte("controller-test-cluster-secret")
	srv, err := newAuthStream("127.0.0.1:0", secret, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := srv.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	addr := raft.ServerAddress(srv.Addr().String())

	// The same secret: bytes flow both ways after the handshake.
	peer := &authStream{secret: secret, timeout: 2 * time.Second}
	c, err := peer.Dial(addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial with the secret: %v", err)
	}
	defer c.Close()
	s := <-accepted
	go func() { _, _ = c.Write([]byte("raft")) }()
	buf := make([]byte, 4)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "raft" {
		t.Fatalf("accepted side read %q, %v", buf, err)
	}

	// Another secret: the dial fails and the accepted side never delivers a byte.
	wrong := &authStream{secret: []byte("another-cluster-secret-0000"), timeout: 2 * time.Second}
	if _, err := wrong.Dial(addr, 2*time.Second); err == nil {
		t.Fatal("a node with another secret completed the handshake")
	}
	s2 := <-accepted
	if n, err := s2.Read(buf); err == nil {
		t.Fatalf("the accepted side delivered %d bytes from a node with another secret", n)
	}

	// A plain Raft peer (no handshake) gets nothing but the hello; its bytes are never delivered.
	plain, err := net.Dial("tcp", string(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	_, _ = plain.Write([]byte{0, 1, 2, 3, 4, 5, 6, 7})
	s3 := <-accepted
	if n, err := s3.Read(buf); err == nil {
		t.Fatalf("the accepted side delivered %d bytes from a peer without the handshake", n)
	}
}

// TestControllerRaftGroupWithClusterSecret: three controllers on real TCP with the cluster secret
// elect a leader; a fourth node with another secret never becomes part of it.
func TestControllerRaftGroupWithClusterSecret(t *testing.T) {
	secret := []byte("controller-test-cluster-secret")
	var peers []Peer
	for i := range 3 {
		peers = append(peers, Peer{ID: string(rune('a' + i)), Addr: "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))})
	}
	var nodes []*Controller
	for _, p := range peers {
		c, err := New(Config{SelfID: p.ID, Peers: peers, HeartbeatTimeout: 3 * time.Second, StorePath: t.TempDir(),
			NamesrvAddr: "ns-" + p.ID, Logger: testutil.Logger(t), Secret: secret})
		if err != nil {
			t.Fatal(err)
		}
		c.Start()
		nodes = append(nodes, c)
	}
	t.Cleanup(func() {
		for _, c := range nodes {
			c.Shutdown()
		}
	})
	testutil.WaitFor(t, 30*time.Second, func() bool {
		n := 0
		for _, c := range nodes {
			if c.IsLeader() {
				n++
			}
		}
		return n == 1
	}, "one leader among the authenticated controllers")
	// An outsider with another secret cannot open a Raft connection to any of them.
	out := &authStream{secret: []byte("another-cluster-secret-0000"), timeout: 2 * time.Second}
	for _, p := range peers {
		if c, err := out.Dial(raft.ServerAddress(p.Addr), 2*time.Second); err == nil {
			c.Close()
			t.Fatalf("a node with another secret connected to %s", p.Addr)
		}
	}
}
