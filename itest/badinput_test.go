package itest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/testutil"
)

// badFrames are byte strings a server must answer by closing the connection.
var badFrames = []struct {
	name  string
	bytes []byte
}{
	{"length below minimum", be32(1, 0)},
	{"negative length", be32(0xFFFFFFFF, 0)},
	{"oversized length", be32(0x7FFFFFF0, 0)},
	{"17 MiB length", be32(17<<20, 4)},
	{"unknown serialize type", append(be32(12, 0x7F000008), []byte("12345678")...)},
	{"header longer than frame", append(be32(8, 0x00001000), []byte("{}{}")...)},
	{"garbage JSON header", append(be32(12, 8), []byte("not-json")...)},
	{"ROCKETMQ remark past the header", append(be32(26, 0x01000016), rocketmqRemarkTooLong()...)},
	{"HTTP request", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
}

// rocketmqRemarkTooLong is a 22-byte ROCKETMQ header whose remarkLen (1000) runs past its end.
func rocketmqRemarkTooLong() []byte {
	h := make([]byte, 22)
	binary.BigEndian.PutUint16(h[0:], 34) // code HEART_BEAT
	h[2] = 9                              // GO
	binary.BigEndian.PutUint32(h[13:], 1000)
	return h
}

func be32(vs ...uint32) []byte {
	b := make([]byte, 0, 4*len(vs))
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// expectClosed writes b on a fresh connection and waits for the server to close it.
func expectClosed(t *testing.T, addr, name string, b []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		t.Fatalf("%s: dial %s: %v", name, addr, err)
	}
	defer c.Close()
	if _, err := c.Write(b); err != nil {
		t.Fatalf("%s: write: %v", name, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 512)
	for {
		n, err := c.Read(buf)
		if err == nil {
			t.Errorf("%s: server answered %d bytes instead of closing: %q", name, n, buf[:n])
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: connection still open after 10 s", name)
			return
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("%s: read error %v, want EOF or reset", name, err)
		}
		return
	}
}

// call sends req on an existing connection and returns the response.
func call(t *testing.T, c net.Conn, req *remoting.Command) *remoting.Command {
	t.Helper()
	f, err := req.Encode()
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(f); err != nil {
		t.Fatalf("write request %d: %v", req.Code, err)
	}
	for {
		resp, err := remoting.ReadCommand(c, 0)
		if err != nil {
			t.Fatalf("read response to %d: %v", req.Code, err)
		}
		if resp.IsResponse() && resp.Opaque == req.Opaque {
			return resp
		}
	}
}

// checkBadInput sends every bad frame to addr while a healthy connection, a half-sent frame and
// new connections keep being served, and checks the server logged why it closed.
func checkBadInput(t *testing.T, p *testutil.Proc, addr string, probe func() *remoting.Command) {
	t.Helper()
	healthy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer healthy.Close()
	if r := call(t, healthy, probe()); r.Code != remoting.Success {
		t.Fatalf("probe before: code %d %s", r.Code, r.Remark)
	}
	// A client that sends half a frame and stalls must not hold up anyone.
	stall, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stall.Close()
	if _, err := stall.Write(append(be32(1000, 100), []byte("{\"code\":")...)); err != nil {
		t.Fatal(err)
	}

	for _, bf := range badFrames {
		expectClosed(t, addr, bf.name, bf.bytes)
		// The connection opened before still works, and so does a new one.
		if r := call(t, healthy, probe()); r.Code != remoting.Success {
			t.Fatalf("after %s: probe on the old connection: code %d", bf.name, r.Code)
		}
		fresh, err := testutil.Call(addr, probe(), 5*time.Second)
		if err != nil || fresh.Code != remoting.Success {
			t.Fatalf("after %s: probe on a new connection: %v %v", bf.name, fresh, err)
		}
	}
	if p.Exited() {
		t.Fatalf("server exited: code %d", p.ExitCode())
	}
	testutil.WaitFor(t, 5*time.Second, func() bool {
		b, _ := os.ReadFile(p.LogPath)
		return strings.Count(string(b), "bad frame") >= len(badFrames)
	}, "a log line for every closed connection")
}

// TestBadInputNamesrv sends garbage to a real name server.
func TestBadInputNamesrv(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	ns := testutil.StartNamesrv(t, bins.Namesrv, testutil.NamesrvOptions{})
	checkBadInput(t, ns.Proc, ns.Addr, func() *remoting.Command {
		return remoting.NewRequest(remoting.GetBrokerClusterInfo, nil, nil)
	})
	ns.StopOK()
}

// TestBadInputBroker sends garbage to a real broker.
func TestBadInputBroker(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins})
	checkBadInput(t, c.Broker.Proc, c.Broker.Addr, func() *remoting.Command {
		return remoting.NewRequest(remoting.GetBrokerRuntimeInfo, nil, nil)
	})
	if !testutil.ListsBroker(c.NameServers[0].Addr, c.Broker.Addr) {
		t.Fatal("broker no longer registered after the bad input")
	}
	c.Broker.StopOK()
	c.NameServers[0].StopOK()
}
