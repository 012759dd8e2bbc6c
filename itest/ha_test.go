package itest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
	"github.com/skiffmq/skiff/internal/testutil"
)

// haBroker is one broker process of a master/slave set, restartable with the same store.
type haBroker struct {
	t    *testing.T
	name string
	conf string
	addr string
	proc *testutil.Proc
}

func startHABroker(t *testing.T, dir, cluster, name string, id int, role, flush, namesrv string) *haBroker {
	return startHABrokerSized(t, dir, cluster, name, id, role, flush, namesrv, 16<<20)
}

// startSecretHABroker is startHABroker with clusterSecret = haSecret (the replication tests run
// with authenticated links; their name servers have the secret too).
func startSecretHABroker(t *testing.T, dir, cluster, name string, id int, role, flush, namesrv string) *haBroker {
	return startHABrokerFull(t, dir, cluster, name, id, role, flush, namesrv, 16<<20, haSecret)
}

func startSecretHABrokerSized(t *testing.T, dir, cluster, name string, id int, role, flush, namesrv string, segment int64) *haBroker {
	return startHABrokerFull(t, dir, cluster, name, id, role, flush, namesrv, segment, haSecret)
}

// startHABrokerSized starts a broker on ports picked free; if another process took one before
// the broker bound it, the broker exits with "address already in use" and is started again on
// fresh ports (a restart with start keeps the ports that worked).
func startHABrokerSized(t *testing.T, dir, cluster, name string, id int, role, flush, namesrv string, segment int64) *haBroker {
	return startHABrokerFull(t, dir, cluster, name, id, role, flush, namesrv, segment, "")
}

// startHABrokerFull is startHABrokerSized with a cluster secret ("" = none).
func startHABrokerFull(t *testing.T, dir, cluster, name string, id int, role, flush, namesrv string, segment int64, secret string) *haBroker {
	t.Helper()
	for attempt := 1; ; attempt++ {
		b := writeHABroker(t, dir, cluster, name, id, role, flush, namesrv, segment, secret)
		b.start()
		if attempt < 3 && testutil.LostPortRace(b.proc, func() bool { return haDialable(b.addr) }) {
			t.Logf("%s lost a port race; retrying on fresh ports", b.name)
			continue
		}
		return b
	}
}

func haDialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		_ = c.Close()
	}
	return err == nil
}

func writeHABroker(t *testing.T, dir, cluster, name string, id int, role, flush, namesrv string, segment int64, secret string) *haBroker {
	t.Helper()
	port := testutil.FreePort(t)
	store := filepath.Join(dir, fmt.Sprintf("%s-%d", name, id))
	if err := os.MkdirAll(store, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(store, "broker.toml")
	text := fmt.Sprintf(`brokerClusterName = %q
brokerName = %q
brokerId = %d
brokerRole = %q
flushDiskType = %q
namesrvAddr = %q
brokerIP1 = "127.0.0.1"
bindAddress = "127.0.0.1"
listenPort = %d
haListenPort = %d
storePathRootDir = %q
httpPort = -1
mappedFileSizeCommitLog = %d
maxMessageSize = %d
slaveTimeout = 3000
haSendHeartbeatInterval = 1000
clusterSecret = %q
`, cluster, name, id, role, flush, namesrv, port, testutil.FreePort(t), store, segment, segment/4, secret)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return &haBroker{t: t, name: fmt.Sprintf("%s-%d", name, id), conf: conf, addr: testutil.Addr(port)}
}

func (b *haBroker) start() {
	b.proc = testutil.Start(b.t, bins.Broker, []string{"-c", b.conf}, nil)
}

// call sends one request to addr.
func haCall(t *testing.T, cli *rpc.Client, addr string, code int32, ext map[string]string, body []byte) (*remoting.Command, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return cli.Invoke(ctx, addr, remoting.NewRequest(code, ext, body))
}

// pullEverything reads every message of topic's queues 0..3 from addr (a master or a slave) and
// returns the bodies.
func pullEverything(t *testing.T, cli *rpc.Client, addr, topic string) map[string]bool {
	t.Helper()
	group := "ha-reader-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	hb, _ := json.Marshal(map[string]any{"clientID": "127.0.0.1@" + group, "producerDataSet": []any{},
		"consumerDataSet": []any{map[string]any{"groupName": group, "consumeType": "CONSUME_ACTIVELY", "messageModel": "CLUSTERING",
			"consumeFromWhere": "CONSUME_FROM_FIRST_OFFSET", "subscriptionDataSet": []any{map[string]any{"topic": topic, "subString": "*"}}}}})
	if r, err := haCall(t, cli, addr, remoting.HeartBeat, nil, hb); err != nil || r.Code != remoting.Success {
		t.Fatalf("heartbeat to %s: %v %v", addr, r, err)
	}
	got := map[string]bool{}
	for q := 0; q < 4; q++ {
		off := int64(0)
		for {
			ext := map[string]string{"consumerGroup": group, "topic": topic, "queueId": strconv.Itoa(q),
				"queueOffset": strconv.FormatInt(off, 10), "maxMsgNums": "32", "sysFlag": "0", "commitOffset": "-1",
				"suspendTimeoutMillis": "0", "subVersion": "0", "expressionType": "TAG"}
			r, err := haCall(t, cli, addr, remoting.PullMessage, ext, nil)
			if err != nil {
				t.Fatalf("pull from %s: %v", addr, err)
			}
			if r.Code != remoting.Success {
				break
			}
			msgs, err := message.DecodeAll(r.Body)
			if err != nil {
				t.Fatalf("decode pull body from %s: %v", addr, err)
			}
			for _, m := range msgs {
				got[string(m.Body)] = true
			}
			next, _ := strconv.ParseInt(r.ExtFields["nextBeginOffset"], 10, 64)
			if next <= off {
				break
			}
			off = next
		}
	}
	return got
}

// TestHASyncMasterKilledUnderLoad runs two name servers and two broker sets of SYNC_MASTER +
// slave, all SYNC_FLUSH. Producers send continuously; the master of set a is killed with SIGKILL
// mid-load. Every message answered SEND_OK must then be readable from a's slave while the master
// is down, and from the master after it restarts; non-OK answers are counted and reported.
func TestHASyncMasterKilledUnderLoad(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	dir := t.TempDir()
	ns1 := testutil.StartNamesrv(t, bins.Namesrv, testutil.NamesrvOptions{Extra: haSecretExtra})
	ns2 := testutil.StartNamesrv(t, bins.Namesrv, testutil.NamesrvOptions{Extra: haSecretExtra})
	nsList := ns1.Addr + ";" + ns2.Addr
	aMaster := startSecretHABroker(t, dir, "HACluster", "broker-a", 0, "SYNC_MASTER", "SYNC_FLUSH", nsList)
	aSlave := startSecretHABroker(t, dir, "HACluster", "broker-a", 1, "SLAVE", "SYNC_FLUSH", nsList)
	bMaster := startSecretHABroker(t, dir, "HACluster", "broker-b", 0, "SYNC_MASTER", "SYNC_FLUSH", nsList)
	bSlave := startSecretHABroker(t, dir, "HACluster", "broker-b", 1, "SLAVE", "SYNC_FLUSH", nsList)
	for _, b := range []*haBroker{aMaster, aSlave, bMaster, bSlave} {
		for _, ns := range []string{ns1.Addr, ns2.Addr} {
			testutil.WaitFor(t, 30*time.Second, func() bool { return testutil.ListsBroker(ns, b.addr) }, b.name+" registered")
		}
	}
	cli := rpc.New(rpc.Config{})
	defer cli.Close()
	const topic = "HALoad"
	for _, m := range []*haBroker{aMaster, bMaster} {
		ext := map[string]string{"topic": topic, "defaultTopic": "TBW102", "readQueueNums": "4", "writeQueueNums": "4",
			"perm": "6", "topicFilterType": "SINGLE_TAG", "order": "false"}
		if r, err := haCall(t, cli, m.addr, remoting.UpdateAndCreateTopic, ext, nil); err != nil || r.Code != remoting.Success {
			t.Fatalf("create topic on %s: %v %v", m.name, r, err)
		}
	}
	// Wait until both slaves replicate (a SYNC_MASTER answers SLAVE_NOT_AVAILABLE until then).
	testutil.WaitFor(t, 30*time.Second, func() bool {
		for _, m := range []*haBroker{aMaster, bMaster} {
			r, err := haCall(t, cli, m.addr, remoting.GetBrokerRuntimeInfo, nil, nil)
			if err != nil || r.Code != remoting.Success {
				return false
			}
			var kv struct{ Table map[string]string }
			if json.Unmarshal(r.Body, &kv) != nil || kv.Table["haSlaves"] == "" {
				return false
			}
		}
		return true
	}, "both slaves to connect")

	var mu sync.Mutex
	acked := map[string]map[string]bool{aMaster.name: {}, bMaster.name: {}}
	var notOK, errorsSeen atomic.Int64
	codes := map[int32]int{}
	var seq atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p := 0; p < 8; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			pc := rpc.New(rpc.Config{})
			defer pc.Close()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				target := aMaster
				if (p+i)%2 == 1 {
					target = bMaster
				}
				body := fmt.Sprintf("p%d-%d-%s", p, seq.Add(1), target.name)
				ext := map[string]string{"producerGroup": "ha", "topic": topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
					"queueId": strconv.Itoa(i % 4), "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "flag": "0"}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				r, err := pc.Invoke(ctx, target.addr, remoting.NewRequest(remoting.SendMessage, ext, []byte(body)))
				cancel()
				switch {
				case err != nil:
					errorsSeen.Add(1)
					time.Sleep(20 * time.Millisecond)
				case r.Code == remoting.Success:
					mu.Lock()
					acked[target.name][body] = true
					mu.Unlock()
				default:
					notOK.Add(1)
					mu.Lock()
					codes[r.Code]++
					mu.Unlock()
				}
			}
		}(p)
	}
	ackedOn := func(b *haBroker) int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked[b.name])
	}
	testutil.WaitFor(t, 30*time.Second, func() bool { return ackedOn(aMaster) >= 200 && ackedOn(bMaster) >= 200 },
		"200 acknowledged sends on each set before the kill")
	aMaster.proc.Kill() // SIGKILL mid-load
	killedAt := time.Now()
	bAtKill := ackedOn(bMaster)
	testutil.WaitFor(t, 30*time.Second, func() bool { return ackedOn(bMaster) >= bAtKill+200 },
		"200 more acknowledged sends on broker-b after the kill")
	close(stop)
	wg.Wait()
	mu.Lock()
	t.Logf("SEND_OK: %d on broker-a, %d on broker-b; non-OK answers %d %v; transport errors %d (mostly broker-a after the kill at %s)",
		len(acked[aMaster.name]), len(acked[bMaster.name]), notOK.Load(), codes, errorsSeen.Load(), killedAt.Format("15:04:05.000"))
	mu.Unlock()
	if len(acked[aMaster.name]) == 0 || len(acked[bMaster.name]) == 0 {
		t.Fatal("the load acknowledged nothing on one of the sets")
	}

	missing := func(where string, got, want map[string]bool) {
		t.Helper()
		n := 0
		for body := range want {
			if !got[body] {
				if n < 5 {
					t.Errorf("%s: acknowledged message %q missing", where, body)
				}
				n++
			}
		}
		if n > 0 {
			t.Fatalf("%s: %d of %d acknowledged messages missing", where, n, len(want))
		}
	}
	// While broker-a's master is down, its slave has every acknowledged message.
	testutil.WaitFor(t, 30*time.Second, func() bool {
		return len(pullEverything(t, cli, aSlave.addr, topic)) >= len(acked[aMaster.name])
	}, "slave of broker-a to serve what was acknowledged")
	missing("slave of broker-a (master down)", pullEverything(t, cli, aSlave.addr, topic), acked[aMaster.name])
	missing("master of broker-b", pullEverything(t, cli, bMaster.addr, topic), acked[bMaster.name])
	// The master restarts from its own SYNC_FLUSH store with everything it acknowledged.
	aMaster.start()
	testutil.WaitFor(t, 30*time.Second, func() bool { return testutil.ListsBroker(ns1.Addr, aMaster.addr) }, "broker-a master back")
	missing("master of broker-a after restart", pullEverything(t, cli, aMaster.addr, topic), acked[aMaster.name])
}

// runtimeInfo returns a broker's GET_BROKER_RUNTIME_INFO table.
func runtimeInfo(t *testing.T, cli *rpc.Client, addr string) map[string]string {
	r, err := haCall(t, cli, addr, remoting.GetBrokerRuntimeInfo, nil, nil)
	if err != nil || r.Code != remoting.Success {
		return nil
	}
	var kv struct{ Table map[string]string }
	_ = json.Unmarshal(r.Body, &kv)
	return kv.Table
}

// maxOffset returns a broker's commit-log max offset; ok is false when the broker did not answer
// (so two failures never compare equal).
func maxOffset(t *testing.T, cli *rpc.Client, addr string) (int64, bool) {
	v, err := strconv.ParseInt(runtimeInfo(t, cli, addr)["commitLogMaxOffset"], 10, 64)
	return v, err == nil && v >= 0
}

// mustMaxOffset is maxOffset that fails the test when the broker does not answer.
func mustMaxOffset(t *testing.T, cli *rpc.Client, addr string) int64 {
	t.Helper()
	v, ok := maxOffset(t, cli, addr)
	if !ok {
		t.Fatalf("no commit-log max offset from %s", addr)
	}
	return v
}

// sameMaxOffset reports whether the broker at addr answers with max offset want.
func sameMaxOffset(t *testing.T, cli *rpc.Client, addr string, want int64) bool {
	v, ok := maxOffset(t, cli, addr)
	return ok && v == want
}

// sendN sends n messages of size bytes to addr and returns the send latencies; it fails the
// test on the first failed send (call it from the test goroutine; trySendN is for others).
func sendN(t *testing.T, cli *rpc.Client, addr, topic string, n, size int, tag string) []time.Duration {
	t.Helper()
	lat, err := trySendN(t, cli, addr, topic, n, size, tag)
	if err != nil {
		t.Fatal(err)
	}
	return lat
}

// trySendN is sendN that returns the first error instead of failing the test.
func trySendN(t *testing.T, cli *rpc.Client, addr, topic string, n, size int, tag string) ([]time.Duration, error) {
	body := make([]byte, size)
	var lat []time.Duration
	for i := 0; i < n; i++ {
		copy(body, fmt.Sprintf("%s-%08d-", tag, i))
		ext := map[string]string{"producerGroup": "ha", "topic": topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
			"queueId": strconv.Itoa(i % 4), "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "flag": "0"}
		t0 := time.Now()
		r, err := haCall(t, cli, addr, remoting.SendMessage, ext, body)
		if err != nil || r.Code != remoting.Success {
			return lat, fmt.Errorf("send %d to %s: %v %v", i, addr, r, err)
		}
		lat = append(lat, time.Since(t0))
	}
	return lat, nil
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sortDurations(s)
	return s[int(float64(len(s)-1)*p)]
}

func sortDurations(s []time.Duration) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// TestHAAsyncMasterSlaveCatchUp covers ASYNC_MASTER replication: an empty slave started against
// a master holding several segments catches up fully; a slave killed during load and restarted
// catches up while producers continue (the test reports how long it took and the master's send
// latency meanwhile); after the load stops the slave's max offset equals the master's and its
// consume queues answer pulls identically.
func TestHAAsyncMasterSlaveCatchUp(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	dir := t.TempDir()
	ns := testutil.StartNamesrv(t, bins.Namesrv, testutil.NamesrvOptions{Extra: haSecretExtra})
	const seg = 1 << 20
	master := startSecretHABrokerSized(t, dir, "HAAsync", "broker-c", 0, "ASYNC_MASTER", "ASYNC_FLUSH", ns.Addr, seg)
	testutil.WaitFor(t, 30*time.Second, func() bool { return testutil.ListsBroker(ns.Addr, master.addr) }, "master registered")
	cli := rpc.New(rpc.Config{})
	defer cli.Close()
	const topic = "HAAsync"
	sendN(t, cli, master.addr, topic, 4000, 1024, "before") // about 4.5 MiB: at least 4 segments
	if m := mustMaxOffset(t, cli, master.addr); m < 3*seg {
		t.Fatalf("master holds %d bytes, want at least 3 segments", m)
	}

	slave := startSecretHABrokerSized(t, dir, "HAAsync", "broker-c", 1, "SLAVE", "ASYNC_FLUSH", ns.Addr, seg)
	start := time.Now()
	target := mustMaxOffset(t, cli, master.addr)
	testutil.WaitFor(t, 60*time.Second, func() bool { return sameMaxOffset(t, cli, slave.addr, target) }, "empty slave to catch up")
	t.Logf("empty slave caught up with %d bytes in %v", target, time.Since(start).Round(time.Millisecond))
	if got := runtimeInfo(t, cli, slave.addr)["commitLogMinOffset"]; got != "0" {
		t.Fatalf("empty slave starts at commit-log offset %s, want 0: it must copy the whole log", got)
	}
	if first := pullQueue(t, cli, slave.addr, topic, 0); first[0] == "" {
		t.Fatal("the slave does not serve the first message of the log")
	}

	// Load continues while the slave is killed and restarted.
	var loadLat []time.Duration
	var loadErr error
	var loadMu sync.Mutex
	sent := func() int {
		loadMu.Lock()
		defer loadMu.Unlock()
		return len(loadLat)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		pc := rpc.New(rpc.Config{})
		defer pc.Close()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			lat, err := trySendN(t, pc, master.addr, topic, 50, 1024, fmt.Sprintf("load%d", i))
			loadMu.Lock()
			loadLat = append(loadLat, lat...)
			if err != nil {
				loadErr = err
			}
			loadMu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	testutil.WaitFor(t, 30*time.Second, func() bool { return sent() >= 200 }, "200 sends of load before the slave is killed")
	slave.proc.Kill()
	atKill := sent()
	testutil.WaitFor(t, 30*time.Second, func() bool { return sent() >= atKill+200 }, "200 sends while the slave is down")
	before := sent()
	slave.start()
	restarted := time.Now()
	// The restarted slave catches up with what the master held when it came back, while the load
	// goes on (no race against the load's throughput: the target is fixed).
	behind := mustMaxOffset(t, cli, master.addr)
	caughtUp := time.Duration(0)
	testutil.WaitFor(t, 60*time.Second, func() bool {
		if v, ok := maxOffset(t, cli, slave.addr); ok && v >= behind {
			caughtUp = time.Since(restarted)
			return true
		}
		return false
	}, "restarted slave to catch up under load")
	testutil.WaitFor(t, 30*time.Second, func() bool { return sent() >= before+200 }, "200 sends after the slave caught up")
	close(stop)
	<-done
	loadMu.Lock()
	during := loadLat[before:]
	err := loadErr
	loadMu.Unlock()
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Logf("restarted slave caught up with %d bytes in %v; master send latency meanwhile over %d sends: p50 %v p99 %v",
		behind, caughtUp.Round(time.Millisecond), len(during), percentile(during, 0.5), percentile(during, 0.99))

	final := mustMaxOffset(t, cli, master.addr)
	testutil.WaitFor(t, 30*time.Second, func() bool { return sameMaxOffset(t, cli, slave.addr, final) }, "slave to reach the master's max offset")
	// clusterList shows the set with its master and slave, their roles and the slave's lag.
	code, out, errOut := runAdmin(t, nil, "clusterList", "-n", ns.Addr)
	if code != 0 {
		t.Fatalf("clusterList exit %d: %s", code, errOut)
	}
	var masterLine, slaveLine string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.Contains(l, master.addr):
			masterLine = l
		case strings.Contains(l, slave.addr):
			slaveLine = l
		}
	}
	if !strings.Contains(out, "#Role") || !strings.Contains(masterLine, "ASYNC_MASTER") ||
		!strings.Contains(slaveLine, "SLAVE") || !strings.HasSuffix(strings.TrimSpace(slaveLine), " 0") {
		t.Fatalf("clusterList does not show roles and the caught-up slave's lag:\n%s", out)
	}
	// Identical pulls: same queue offsets and bodies for what the slave holds.
	for q := 0; q < 4; q++ {
		mq := pullQueue(t, cli, master.addr, topic, q)
		sq := pullQueue(t, cli, slave.addr, topic, q)
		if len(sq) == 0 {
			t.Fatalf("queue %d: slave serves nothing", q)
		}
		for off, body := range sq {
			if mq[off] != body {
				t.Fatalf("queue %d offset %d differs between slave and master", q, off)
			}
		}
		if last(mq) != last(sq) {
			t.Fatalf("queue %d: master ends at %d, slave at %d", q, last(mq), last(sq))
		}
	}
}

func last(m map[int64]string) int64 {
	x := int64(-1)
	for k := range m {
		x = max(x, k)
	}
	return x
}

// pullQueue returns queue offset → body for every message a broker serves in one queue.
func pullQueue(t *testing.T, cli *rpc.Client, addr, topic string, q int) map[int64]string {
	t.Helper()
	group := "ha-cmp-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	out := map[int64]string{}
	min := int64(0)
	if r, err := haCall(t, cli, addr, remoting.GetMinOffset, map[string]string{"topic": topic, "queueId": strconv.Itoa(q)}, nil); err == nil {
		min, _ = strconv.ParseInt(r.ExtFields["offset"], 10, 64)
	}
	off := min
	for {
		ext := map[string]string{"consumerGroup": group, "topic": topic, "queueId": strconv.Itoa(q),
			"queueOffset": strconv.FormatInt(off, 10), "maxMsgNums": "32", "sysFlag": "4", "commitOffset": "-1",
			"suspendTimeoutMillis": "0", "subscription": "*", "subVersion": "0", "expressionType": "TAG"}
		r, err := haCall(t, cli, addr, remoting.PullMessage, ext, nil)
		if err != nil || r.Code != remoting.Success {
			return out
		}
		msgs, err := message.DecodeAll(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			out[m.QueueOffset] = string(m.Body)
		}
		next, _ := strconv.ParseInt(r.ExtFields["nextBeginOffset"], 10, 64)
		if next <= off {
			return out
		}
		off = next
	}
}

// The replication tests run with a cluster secret: the HA handshake, registration and the slave's
// metadata sync are authenticated, and replication must behave exactly as without.
const haSecret = "replication-test-cluster-secret"

var haSecretExtra = map[string]string{"clusterSecret": `"` + haSecret + `"`}
