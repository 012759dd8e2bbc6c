package compat

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/skiffmq/skiff/internal/testutil"
)

// startSetMember starts one broker of a master/slave set with the given role, on ports picked
// free; if another process took one before the broker bound it, it starts again on fresh ports.
func startSetMember(t *testing.T, ns string, id int, role string) (*testutil.Proc, string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p, addr := launchSetMember(t, ns, id, role)
		if attempt < 3 && testutil.LostPortRace(p, func() bool { return testutil.ListsBroker(ns, addr) }) {
			t.Logf("broker %s lost a port race; retrying on fresh ports", addr)
			continue
		}
		testutil.WaitFor(t, 30*time.Second, func() bool { return testutil.ListsBroker(ns, addr) }, "broker "+addr+" registered")
		return p, addr
	}
}

func launchSetMember(t *testing.T, ns string, id int, role string) (*testutil.Proc, string) {
	t.Helper()
	dir := t.TempDir()
	port := testutil.FreePort(t)
	conf := filepath.Join(dir, "broker.toml")
	text := fmt.Sprintf(`brokerClusterName = "HACompat"
brokerName = "broker-h"
brokerId = %d
brokerRole = %q
namesrvAddr = %q
brokerIP1 = "127.0.0.1"
bindAddress = "127.0.0.1"
listenPort = %d
haListenPort = %d
storePathRootDir = %q
httpPort = -1
mappedFileSizeCommitLog = %d
registerNameServerPeriod = 10000
clusterSecret = %q
`, id, role, ns, port, testutil.FreePort(t), dir, 16<<20, haSecret)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return testutil.Start(t, bins.Broker, []string{"-c", conf}, nil), testutil.Addr(port)
}

// TestConsumerContinuesFromSlaveWhileMasterDown: a SYNC_MASTER with one slave; the official push
// consumer reads a topic; the master is killed with SIGKILL right after more messages were
// acknowledged. The consumer keeps consuming from the slave (the client falls back to it when the
// route loses the master) and no acknowledged message is skipped.
func TestConsumerContinuesFromSlaveWhileMasterDown(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	ns := testutil.StartNamesrv(t, bins.Namesrv, testutil.NamesrvOptions{Extra: haSecretExtra})
	master, masterAddr := startSetMember(t, ns.Addr, 0, "SYNC_MASTER")
	_, slaveAddr := startSetMember(t, ns.Addr, 1, "SLAVE")
	nsList := []string{ns.Addr}
	c := &testutil.Cluster{NameServers: []*testutil.Namesrv{ns}, Broker: &testutil.Broker{Addr: masterAddr}}
	createTopic(t, c, "HAConsume", 4)

	p := newProducer(t, nsList, "ha-consume")
	send := func(phase string, n int) []string {
		var bodies []string
		deadline := time.Now().Add(30 * time.Second)
		for i := 0; i < n; i++ {
			body := fmt.Sprintf("%s-%03d", phase, i)
			r, err := p.SendSync(context.Background(), primitive.NewMessage("HAConsume", []byte(body)))
			if err != nil || r.Status != primitive.SendOK {
				// SLAVE_NOT_AVAILABLE until the slave connected: retry, it is not acknowledged.
				if time.Now().After(deadline) {
					t.Fatalf("send %s: %v %v", body, r, err)
				}
				time.Sleep(100 * time.Millisecond)
				i--
				continue
			}
			bodies = append(bodies, body)
		}
		return bodies
	}
	phase1 := send("before", 100)
	s := newSink()
	pc := startConsumer(t, nsList, consumerOpts{group: "cg-ha-consume", instance: "ha-consume", topic: "HAConsume", sink: s})
	s.waitBodies(t, phase1, 60*time.Second, "messages sent before the master died")
	// Pause pulling so that most of the next messages can only come from the slave: the pulls
	// held by the master when they arrive return at most one batch per queue.
	pc.Suspend()
	phase2 := send("acked-then-master-died", 400)
	master.Kill()
	atKill := s.distinct()
	t.Logf("master %s killed with %d messages consumed; its slave is %s", masterAddr, atKill, slaveAddr)
	pc.Resume()
	all := append(append([]string(nil), phase1...), phase2...)
	s.waitBodies(t, all, 90*time.Second, "every acknowledged message, read from the slave while the master is down")
	if missing := s.missing(all); len(missing) > 0 {
		t.Fatalf("%d acknowledged messages skipped, e.g. %v", len(missing), first(missing, 5))
	}
	if after := s.distinct() - atKill; after <= 0 {
		t.Fatalf("no message consumed after the master died (%d before)", atKill)
	} else {
		t.Logf("%d messages consumed from the slave while the master was down", after)
	}
}

// The replication tests run with a cluster secret: the HA handshake, registration and the slave's
// metadata sync are authenticated, and replication must behave exactly as without.
const haSecret = "replication-test-cluster-secret"

var haSecretExtra = map[string]string{"clusterSecret": `"` + haSecret + `"`}
