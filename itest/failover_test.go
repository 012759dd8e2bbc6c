package itest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/consumer"
	"github.com/skiffmq/skiff/client/producer"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
	"github.com/skiffmq/skiff/internal/testutil"
)

// Controller request codes (internal/controlapi; itest speaks the wire protocol only).
const (
	codeGetMetadataInfo  int32 = 1005
	codeGetSyncStateData int32 = 1006
	codeGetEpochCache    int32 = 1007
)

// foHeartbeatTimeout is controllerHeartBeatTimeoutMills in these tests: short, so that five
// switches fit the time budget.
const foHeartbeatTimeout = 2500 * time.Millisecond

type foNamesrv struct {
	conf string
	addr string
	proc *testutil.Proc
}

type foBroker struct {
	// With proxies: its controller traffic and its HA port (as the other replicas reach it) go
	// through these, so a test can cut it off.
	ctlProxies []*testutil.Proxy
	haProxy    *testutil.Proxy
	id         int64
	conf       string
	addr       string
	store      string
	proc       *testutil.Proc
	killed     bool
}

// foCluster is three name servers running the controller and one broker set of three replicas
// in controller mode, all real processes.
type foCluster struct {
	t       *testing.T
	ns      []*foNamesrv
	nsAddr  string
	brokers map[int64]*foBroker
	cli     *rpc.Client
}

// cut partitions the broker from the controller and from the other replicas (clients still reach
// it); heal undoes it.
func (b *foBroker) cut() {
	b.haProxy.Cut()
	for _, p := range b.ctlProxies {
		p.Cut()
	}
}

func (b *foBroker) heal() {
	b.haProxy.Heal()
	for _, p := range b.ctlProxies {
		p.Heal()
	}
}

func startFailoverCluster(t *testing.T, brokerExtra string) *foCluster {
	return startFailoverClusterProxied(t, brokerExtra, false)
}

func startFailoverClusterProxied(t *testing.T, brokerExtra string, proxied bool) *foCluster {
	t.Helper()
	c := &foCluster{t: t, brokers: map[int64]*foBroker{}}
	c.cli = rpc.New(rpc.Config{DialTimeout: 2 * time.Second})
	t.Cleanup(func() { _ = c.cli.Close() })
	var peers, addrs []string
	ports := make([]int, 3)
	for i := range 3 {
		ports[i] = testutil.FreePort(t)
		peers = append(peers, fmt.Sprintf("n%d-127.0.0.1:%d", i, testutil.FreePort(t)))
		addrs = append(addrs, testutil.Addr(ports[i]))
	}
	c.nsAddr = strings.Join(addrs, ";")
	for i := range 3 {
		dir := t.TempDir()
		conf := filepath.Join(dir, "namesrv.toml")
		text := fmt.Sprintf(`listenPort = %d
bindAddress = "127.0.0.1"
kvConfigPath = %q
enableControllerInNamesrv = true
controllerPeers = %q
controllerSelfId = "n%d"
controllerStorePath = %q
controllerHeartBeatTimeoutMills = %d
`, ports[i], filepath.Join(dir, "kv.json"), strings.Join(peers, ";"), i, filepath.Join(dir, "controller"), foHeartbeatTimeout.Milliseconds())
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		ns := &foNamesrv{conf: conf, addr: addrs[i]}
		ns.start(t)
		c.ns = append(c.ns, ns)
	}
	for id := int64(1); id <= 3; id++ {
		dir := t.TempDir()
		b := &foBroker{id: id, store: filepath.Join(dir, "store"), conf: filepath.Join(dir, "broker.toml")}
		port := testutil.FreePort(t)
		b.addr = testutil.Addr(port)
		haPort := testutil.FreePort(t)
		ctlAddr, extra := c.nsAddr, brokerExtra
		if proxied {
			// The other replicas reach this broker's HA port at 127.0.0.2 (brokerIP2), through a
			// proxy to where it listens (127.0.0.1).
			b.haProxy = testutil.StartProxy(t, fmt.Sprintf("127.0.0.2:%d", haPort), testutil.Addr(haPort))
			var via []string
			for _, a := range addrs {
				p := testutil.StartProxy(t, "127.0.0.1:0", a)
				b.ctlProxies = append(b.ctlProxies, p)
				via = append(via, p.Addr())
			}
			ctlAddr = strings.Join(via, ";")
			extra += "brokerIP2 = \"127.0.0.2\"\n"
		}
		text := fmt.Sprintf(`brokerClusterName = "FOCluster"
brokerName = "broker-fo"
brokerId = %d
enableControllerMode = true
controllerAddr = %q
namesrvAddr = %q
brokerIP1 = "127.0.0.1"
bindAddress = "127.0.0.1"
listenPort = %d
haListenPort = %d
storePathRootDir = %q
httpPort = -1
flushDiskType = "SYNC_FLUSH"
mappedFileSizeCommitLog = %d
maxMessageSize = 1048576
slaveTimeout = 3000
haSendHeartbeatInterval = 1000
brokerHeartbeatInterval = 300
haMaxTimeSlaveNotCatchup = 3000
allAckInSyncStateSet = true
%s`, id, ctlAddr, c.nsAddr, port, haPort, b.store, 16<<20, extra)
		if err := os.WriteFile(b.conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		b.start(t)
		c.brokers[id] = b
	}
	return c
}

func (ns *foNamesrv) start(t *testing.T) {
	ns.proc = testutil.Start(t, bins.Namesrv, []string{"-c", ns.conf}, nil)
}

func (b *foBroker) kill() {
	b.killed = true
	b.proc.Kill()
}

func (b *foBroker) start(t *testing.T) {
	b.killed = false
	b.proc = testutil.Start(t, bins.Broker, []string{"-c", b.conf}, nil)
}

// foSet is the controller's view of the set (GET_SYNC_STATE_DATA).
type foSet struct {
	MasterBrokerID    int64   `json:"masterBrokerId"`
	MasterAddress     string  `json:"masterAddress"`
	MasterEpoch       int64   `json:"masterEpoch"`
	SyncStateSet      []int64 `json:"syncStateSet"`
	SyncStateSetEpoch int64   `json:"syncStateSetEpoch"`
	Replicas          []struct {
		BrokerID  int64 `json:"brokerId"`
		Alive     bool  `json:"alive"`
		MaxOffset int64 `json:"maxOffset"`
	} `json:"replicas"`
}

// state asks the live name servers in turn (any of them forwards to the Raft leader).
func (c *foCluster) state() (foSet, bool) {
	for _, ns := range c.ns {
		if ns.proc.Exited() {
			continue
		}
		r, err := haCall(c.t, c.cli, ns.addr, codeGetSyncStateData, nil, []byte(`["broker-fo"]`))
		if err != nil || r.Code != remoting.Success {
			continue
		}
		var m map[string]foSet
		if json.Unmarshal(r.Body, &m) == nil {
			if s, ok := m["broker-fo"]; ok {
				return s, true
			}
		}
	}
	return foSet{}, false
}

// waitSet waits until the controller's view satisfies cond.
func (c *foCluster) waitSet(timeout time.Duration, what string, cond func(foSet) bool) foSet {
	c.t.Helper()
	var s foSet
	testutil.WaitFor(c.t, timeout, func() bool {
		for _, b := range c.brokers {
			if b.proc.Exited() && !b.killed {
				c.t.Fatalf("broker %d exited:\n%s", b.id, b.proc.LogTail(30))
			}
		}
		var ok bool
		s, ok = c.state()
		return ok && cond(s)
	}, what)
	return s
}

// raftLeader returns the name server whose controller leads the Raft group.
func (c *foCluster) raftLeader() *foNamesrv {
	c.t.Helper()
	var leader *foNamesrv
	testutil.WaitFor(c.t, 20*time.Second, func() bool {
		for _, ns := range c.ns {
			r, err := haCall(c.t, c.cli, ns.addr, codeGetMetadataInfo, nil, nil)
			if err == nil && r.Code == remoting.Success && r.ExtFields["isLeader"] == "true" {
				leader = ns
				return true
			}
		}
		return false
	}, "a controller leader")
	return leader
}

type epochCache struct {
	Master    bool `json:"master"`
	MaxOffset int64
	Entries   []struct {
		Epoch       int64 `json:"epoch"`
		StartOffset int64 `json:"startOffset"`
	} `json:"entries"`
}

func (c *foCluster) epochCache(b *foBroker) (epochCache, error) {
	r, err := haCall(c.t, c.cli, b.addr, codeGetEpochCache, nil, nil)
	if err != nil {
		return epochCache{}, err
	}
	var e epochCache
	err = json.Unmarshal(r.Body, &e)
	return e, err
}

// commitLogBytes reads a store's commit log [0, end).
func commitLogBytes(t *testing.T, store string, end int64) []byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(store, "commitlog", "*"))
	sort.Strings(files)
	var out []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	if int64(len(out)) < end {
		t.Fatalf("%s holds %d bytes, want %d", store, len(out), end)
	}
	return out[:end]
}

// ack is one acknowledged send.
type ack struct {
	seq    int
	queue  int32
	broker string // the store host of the offset message id
	at     time.Time
}

// foLoad sends numbered messages one after the other until stopped, and records every SEND_OK.
type foLoad struct {
	mu     sync.Mutex
	acks   []ack
	failed int
	sent   int
	stop   chan struct{}
	done   chan struct{}
}

func startFoLoad(t *testing.T, nsAddr, topic string) *foLoad {
	p, err := producer.New(producer.WithNameServers(nsAddr), producer.WithGroup("fo-producer"), producer.WithRouteInterval(300*time.Millisecond),
		producer.WithSendTimeout(3*time.Second), producer.WithRetries(2), producer.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	l := &foLoad{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		defer func() { _ = p.Shutdown(context.Background()) }()
		for seq := 0; seq < 1_000_000; seq++ {
			select {
			case <-l.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := p.Send(ctx, client.NewMessage(topic, []byte(fmt.Sprintf("seq-%07d", seq))))
			cancel()
			l.mu.Lock()
			l.sent++
			if err == nil && res.Status == client.SendOK {
				host, _, _ := message.ParseOffsetMsgID(res.OffsetMsgID)
				l.acks = append(l.acks, ack{seq: seq, queue: int32(res.Queue.QueueID), broker: host.String(), at: time.Now()})
			} else {
				l.failed++
				time.Sleep(20 * time.Millisecond) // no master yet: do not spin
			}
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *foLoad) acked() []ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.acks)
}

func (l *foLoad) halt() {
	close(l.stop)
	<-l.done
}

// firstAckAfter is the first acknowledgement after t by a broker other than not.
func (l *foLoad) firstAckAfter(t time.Time, not string) (ack, bool) {
	for _, a := range l.acked() {
		if a.at.After(t) && a.broker != not {
			return a, true
		}
	}
	return ack{}, false
}

// readQueue pulls every message of one queue from addr, in queue order, as sequence numbers.
func readQueue(t *testing.T, cli *rpc.Client, addr, topic string, q int32) []int {
	t.Helper()
	group := "fo-reader-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	hb, _ := json.Marshal(map[string]any{"clientID": "127.0.0.1@" + group, "producerDataSet": []any{},
		"consumerDataSet": []any{map[string]any{"groupName": group, "consumeType": "CONSUME_ACTIVELY", "messageModel": "CLUSTERING",
			"consumeFromWhere": "CONSUME_FROM_FIRST_OFFSET", "subscriptionDataSet": []any{map[string]any{"topic": topic, "subString": "*"}}}}})
	// Creating the reader's group is refused while an in-sync replica is unreachable (the
	// master must put it on every member first): right after a switch the SyncStateSet can
	// still name the departed master until it is shrunk (haMaxTimeSlaveNotCatchup, 3 s here).
	var hbErr string
	if !testutil.Poll(20*time.Second, func() bool {
		r, err := haCall(t, cli, addr, remoting.HeartBeat, nil, hb)
		if err == nil && r.Code == remoting.Success {
			return true
		}
		hbErr = fmt.Sprintf("%v %v", r, err)
		return false
	}) {
		t.Fatalf("heartbeat to %s: %s", addr, hbErr)
	}
	var out []int
	off := int64(0)
	for {
		ext := map[string]string{"consumerGroup": group, "topic": topic, "queueId": strconv.Itoa(int(q)),
			"queueOffset": strconv.FormatInt(off, 10), "maxMsgNums": "32", "sysFlag": "0", "commitOffset": "-1",
			"suspendTimeoutMillis": "0", "subVersion": "0", "expressionType": "TAG"}
		r, err := haCall(t, cli, addr, remoting.PullMessage, ext, nil)
		if err != nil {
			t.Fatalf("pull from %s: %v", addr, err)
		}
		if r.Code != remoting.Success {
			return out
		}
		msgs, err := message.DecodeAll(r.Body)
		if err != nil {
			t.Fatalf("decode pull body from %s: %v", addr, err)
		}
		for _, m := range msgs {
			n, _ := strconv.Atoi(strings.TrimPrefix(string(m.Body), "seq-"))
			out = append(out, n)
		}
		next, _ := strconv.ParseInt(r.ExtFields["nextBeginOffset"], 10, 64)
		if next <= off {
			return out
		}
		off = next
	}
}

// checkNoLoss reads every queue of topic from the master and checks that every acknowledged
// message is there, and that acknowledged messages appear in the order they were acknowledged.
func checkNoLoss(t *testing.T, cli *rpc.Client, master, topic string, acks []ack) (lost int) {
	t.Helper()
	byQueue := map[int32][]int{}
	bySeq := map[int]ack{}
	for _, a := range acks {
		bySeq[a.seq] = a
		byQueue[a.queue] = append(byQueue[a.queue], a.seq)
	}
	for q, want := range byQueue {
		got := readQueue(t, cli, master, topic, q)
		t.Logf("queue %d: %d acknowledged, %d read; read %v ... %v", q, len(want), len(got), got[:min(len(got), 20)], got[max(len(got)-5, 0):])
		pos := map[int]int{}
		for i, s := range got {
			if _, dup := pos[s]; !dup {
				pos[s] = i
			}
		}
		last := -1
		for _, s := range want {
			i, ok := pos[s]
			if !ok {
				lost++
				if lost <= 10 || lost%50 == 0 {
					t.Errorf("queue %d: acknowledged message seq-%07d is lost (acknowledged by %s at %s)", q, s, bySeq[s].broker, bySeq[s].at.Format("15:04:05.000"))
				}
				continue
			}
			if i < last {
				t.Errorf("queue %d: acknowledged seq-%07d is stored before an earlier acknowledged message", q, s)
			}
			last = i
		}
	}
	return lost
}

func foCreateTopic(t *testing.T, cli *rpc.Client, master, topic string) {
	t.Helper()
	testutil.WaitFor(t, 20*time.Second, func() bool {
		r, err := haCall(t, cli, master, remoting.UpdateAndCreateTopic, map[string]string{"topic": topic, "readQueueNums": "4",
			"writeQueueNums": "4", "perm": "6", "topicFilterType": "SINGLE_TAG"}, nil)
		return err == nil && r.Code == remoting.Success
	}, "topic "+topic+" created on the master and its in-sync replicas")
}

// foMetaSuffix names the topics and groups one round of foCreateMetadata creates.
type foMeta struct{ topic, autoTopic, group, autoGroup, deletedTopic, deletedGroup string }

// foCreateMetadata creates and deletes a topic and a group, then creates, on the master, a topic
// and a subscription group through the admin requests (UPDATE_AND_CREATE_TOPIC with 3 queues, UPDATE_AND_CREATE_SUBSCRIPTIONGROUP with
// retryMaxTimes 7: both differ from what an auto-create would give), a topic by auto-create on
// a send and a group (and its retry topic) by auto-create on a heartbeat. Each must be
// acknowledged; the caller kills the master right after.
func foCreateMetadata(t *testing.T, cli *rpc.Client, master, tag string) foMeta {
	t.Helper()
	m := foMeta{topic: "FOMeta" + tag, autoTopic: "FOAuto" + tag, group: "FOMetaGroup" + tag, autoGroup: "FOAutoGroup" + tag,
		deletedTopic: "FODeleted" + tag, deletedGroup: "FODeletedGroup" + tag}
	// A topic and a group created (on every replica) and deleted again: the deletions must reach
	// the replicas too.
	if r, err := haCall(t, cli, master, remoting.UpdateAndCreateTopic, map[string]string{"topic": m.deletedTopic, "readQueueNums": "1",
		"writeQueueNums": "1", "perm": "6"}, nil); err != nil || r.Code != remoting.Success {
		t.Fatalf("create topic %s on master %s: %v %v", m.deletedTopic, master, r, err)
	}
	dg, _ := json.Marshal(map[string]any{"groupName": m.deletedGroup, "consumeEnable": true})
	if r, err := haCall(t, cli, master, remoting.UpdateAndCreateSubscriptionGroup, nil, dg); err != nil || r.Code != remoting.Success {
		t.Fatalf("create group %s on master %s: %v %v", m.deletedGroup, master, r, err)
	}
	if r, err := haCall(t, cli, master, remoting.DeleteTopicInBroker, map[string]string{"topic": m.deletedTopic}, nil); err != nil || r.Code != remoting.Success {
		t.Fatalf("delete topic %s on master %s: %v %v", m.deletedTopic, master, r, err)
	}
	if r, err := haCall(t, cli, master, remoting.DeleteSubscriptionGroup, map[string]string{"groupName": m.deletedGroup}, nil); err != nil || r.Code != remoting.Success {
		t.Fatalf("delete group %s on master %s: %v %v", m.deletedGroup, master, r, err)
	}
	r, err := haCall(t, cli, master, remoting.UpdateAndCreateTopic, map[string]string{"topic": m.topic, "readQueueNums": "3",
		"writeQueueNums": "3", "perm": "6", "topicFilterType": "SINGLE_TAG"}, nil)
	if err != nil || r.Code != remoting.Success {
		t.Fatalf("create topic %s on master %s: %v %v", m.topic, master, r, err)
	}
	gc, _ := json.Marshal(map[string]any{"groupName": m.group, "consumeEnable": true, "consumeFromMinEnable": true,
		"consumeBroadcastEnable": true, "retryQueueNums": 1, "retryMaxTimes": 7, "brokerId": 0, "whichBrokerWhenConsumeSlowly": 1,
		"notifyConsumerIdsChangedEnable": true})
	if r, err := haCall(t, cli, master, remoting.UpdateAndCreateSubscriptionGroup, nil, gc); err != nil || r.Code != remoting.Success {
		t.Fatalf("create group %s on master %s: %v %v", m.group, master, r, err)
	}
	ext := map[string]string{"producerGroup": "fo-meta", "topic": m.autoTopic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "2",
		"queueId": "1", "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "flag": "0"}
	if r, err := haCall(t, cli, master, remoting.SendMessage, ext, []byte("auto-created")); err != nil || r.Code != remoting.Success {
		t.Fatalf("send to the new topic %s on master %s: %v %v", m.autoTopic, master, r, err)
	}
	hb, _ := json.Marshal(map[string]any{"clientID": "127.0.0.1@" + m.autoGroup, "producerDataSet": []any{},
		"consumerDataSet": []any{map[string]any{"groupName": m.autoGroup, "consumeType": "CONSUME_ACTIVELY", "messageModel": "CLUSTERING",
			"consumeFromWhere": "CONSUME_FROM_FIRST_OFFSET", "subscriptionDataSet": []any{map[string]any{"topic": m.topic, "subString": "*"}}}}})
	if r, err := haCall(t, cli, master, remoting.HeartBeat, nil, hb); err != nil || r.Code != remoting.Success {
		t.Fatalf("heartbeat of group %s to master %s: %v %v", m.autoGroup, master, r, err)
	}
	return m
}

// foCheckMetadata asserts that a new master, elected right after foCreateMetadata's
// acknowledgements and the old master's SIGKILL, has all of it (before any client re-creates
// anything there), and that it serves a send to the created topic and the group's offsets.
func foCheckMetadata(t *testing.T, cli *rpc.Client, master string, m foMeta) {
	t.Helper()
	var topics struct {
		TopicConfigTable map[string]struct {
			ReadQueueNums  int `json:"readQueueNums"`
			WriteQueueNums int `json:"writeQueueNums"`
		} `json:"topicConfigTable"`
	}
	var groups struct {
		SubscriptionGroupTable map[string]struct {
			RetryMaxTimes int `json:"retryMaxTimes"`
		} `json:"subscriptionGroupTable"`
	}
	for code, v := range map[int32]any{remoting.GetAllTopicConfig: &topics, remoting.GetAllSubscriptionGroupConfig: &groups} {
		r, err := haCall(t, cli, master, code, nil, nil)
		if err != nil || r.Code != remoting.Success {
			t.Fatalf("request %d to the new master %s: %v %v", code, master, r, err)
		}
		if err := json.Unmarshal(r.Body, v); err != nil {
			t.Fatal(err)
		}
	}
	if tc, ok := topics.TopicConfigTable[m.topic]; !ok || tc.WriteQueueNums != 3 {
		t.Errorf("the new master %s lost topic %s created (3 queues) on the old master: %+v (present %v)", master, m.topic, tc, ok)
	}
	if tc, ok := topics.TopicConfigTable[m.autoTopic]; !ok || tc.WriteQueueNums != 2 {
		t.Errorf("the new master %s lost topic %s auto-created (2 queues) by a send on the old master: %+v (present %v)", master, m.autoTopic, tc, ok)
	}
	if _, ok := topics.TopicConfigTable["%RETRY%"+m.autoGroup]; !ok {
		t.Errorf("the new master %s lost the retry topic of group %s auto-created by a heartbeat", master, m.autoGroup)
	}
	if gc, ok := groups.SubscriptionGroupTable[m.group]; !ok || gc.RetryMaxTimes != 7 {
		t.Errorf("the new master %s lost subscription group %s (retryMaxTimes 7) created on the old master: %+v (present %v)", master, m.group, gc, ok)
	}
	if _, ok := groups.SubscriptionGroupTable[m.autoGroup]; !ok {
		t.Errorf("the new master %s lost subscription group %s auto-created by a heartbeat on the old master", master, m.autoGroup)
	}
	if _, ok := topics.TopicConfigTable[m.deletedTopic]; ok {
		t.Errorf("the new master %s has topic %s, deleted on the old master", master, m.deletedTopic)
	}
	if _, ok := groups.SubscriptionGroupTable[m.deletedGroup]; ok {
		t.Errorf("the new master %s has subscription group %s, deleted on the old master", master, m.deletedGroup)
	}
	// It serves the topic and the group: a send to queue 2 of the 3, an offset committed and read back.
	testutil.WaitFor(t, 20*time.Second, func() bool {
		ext := map[string]string{"producerGroup": "fo-meta", "topic": m.topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
			"queueId": "2", "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "flag": "0"}
		r, err := haCall(t, cli, master, remoting.SendMessage, ext, []byte("after the switch"))
		return err == nil && r.Code == remoting.Success
	}, "a send to "+m.topic+" acknowledged by the new master")
	ext := map[string]string{"consumerGroup": m.group, "topic": m.topic, "queueId": "2", "commitOffset": "1"}
	if r, err := haCall(t, cli, master, remoting.UpdateConsumerOffset, ext, nil); err != nil || r.Code != remoting.Success {
		t.Fatalf("commit an offset of %s on the new master: %v %v", m.group, r, err)
	}
	r, err := haCall(t, cli, master, remoting.QueryConsumerOffset, map[string]string{"consumerGroup": m.group, "topic": m.topic, "queueId": "2"}, nil)
	if err != nil || r.Code != remoting.Success || r.ExtFields["offset"] != "1" {
		t.Errorf("offset of %s on the new master: %v %v", m.group, r, err)
	}
}

// foConsumer is an SDK push consumer of the test topic (clustering, from the first offset, the
// default 30 s route refresh), recording when each numbered message was first delivered.
type foConsumer struct {
	mu    sync.Mutex
	first map[int]time.Time
}

func startFoConsumer(t *testing.T, nsAddr, group, topic string) *foConsumer {
	fc := &foConsumer{first: map[int]time.Time{}}
	pc, err := consumer.NewPushConsumer(group, consumer.WithNameServers(nsAddr), consumer.WithLogger(testLogger(t)),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), consumer.WithCommitInterval(500*time.Millisecond),
		consumer.WithPullTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	err = pc.Subscribe(topic, "*", func(_ context.Context, msgs []*client.MessageExt) consumer.ConsumeResult {
		now := time.Now()
		fc.mu.Lock()
		defer fc.mu.Unlock()
		for _, m := range msgs {
			n, err := strconv.Atoi(strings.TrimPrefix(string(m.Body), "seq-"))
			if err != nil {
				continue
			}
			if _, ok := fc.first[n]; !ok {
				fc.first[n] = now
			}
		}
		return consumer.ConsumeSuccess
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Shutdown(context.Background()) })
	return fc
}

func (fc *foConsumer) consumed() map[int]time.Time {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return maps.Clone(fc.first)
}

// firstAfter is the first delivery after t of a message acknowledged by broker.
func (fc *foConsumer) firstAfter(t time.Time, acks []ack, broker string) (time.Duration, bool) {
	got := fc.consumed()
	var best time.Time
	for _, a := range acks {
		if at, ok := got[a.seq]; ok && a.broker == broker && at.After(t) && (best.IsZero() || at.Before(best)) {
			best = at
		}
	}
	return best.Sub(t), !best.IsZero()
}

// checkCommittedOffsets: on master, the group's committed offset of every queue of topic is at
// most the first message of the queue the consumer has not received (redelivery allowed,
// skipping not), and never past the queue's end.
func checkCommittedOffsets(t *testing.T, cli *rpc.Client, master, group, topic string, fc *foConsumer, when string) {
	t.Helper()
	for q := int32(0); q < 4; q++ {
		r, err := haCall(t, cli, master, remoting.QueryConsumerOffset, map[string]string{"consumerGroup": group, "topic": topic, "queueId": strconv.Itoa(int(q))}, nil)
		if err != nil {
			t.Fatalf("%s: query offset of queue %d on %s: %v", when, q, master, err)
		}
		if r.Code != remoting.Success {
			continue // nothing committed yet
		}
		committed, _ := strconv.ParseInt(r.ExtFields["offset"], 10, 64)
		got := fc.consumed()
		entries := readQueue(t, cli, master, topic, q)
		if committed > int64(len(entries)) {
			t.Errorf("%s: group %s committed offset %d of queue %d on %s is past the queue's %d messages (the next one stored there would be skipped)",
				when, group, committed, q, master, len(entries))
		}
		for i := int64(0); i < min(committed, int64(len(entries))); i++ {
			if _, ok := got[entries[i]]; !ok {
				t.Errorf("%s: group %s committed offset %d of queue %d on %s skips seq-%07d at offset %d, never delivered",
					when, group, committed, q, master, entries[i], i)
				break
			}
		}
	}
}

func full(s foSet) bool { return s.MasterBrokerID != 0 && len(s.SyncStateSet) == 3 }

// TestFailoverKillMasterRepeatedly kills the master with SIGKILL five times under a steady
// producer and a push consumer, then stops it once with SIGTERM; each time a new master comes
// from the SyncStateSet and accepts sends within controllerHeartBeatTimeoutMills + 5 s (the
// SIGTERM: it hands over first), the victim restarts and rejoins as a slave; at the end every
// acknowledged message is read back in order per queue and all three logs are identical. Topics
// and groups created right before the first kill are on the new master; the consumer's committed
// offsets never pass an undelivered message and it gets every acknowledged message.
func TestFailoverKillMasterRepeatedly(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	c := startFailoverCluster(t, "")
	s := c.waitSet(60*time.Second, "a master and a full SyncStateSet", full)
	foCreateTopic(t, c.cli, s.MasterAddress, "FOTopic")
	load := startFoLoad(t, c.nsAddr, "FOTopic")
	defer func() {
		select {
		case <-load.done:
		default:
			load.halt()
		}
	}()
	fc := startFoConsumer(t, c.nsAddr, "fo-consumer", "FOTopic")
	var switches, resumes []time.Duration
	var victims []int64
	// Rounds 0-4 SIGKILL the master; round 5 stops it with SIGTERM (a planned shutdown: it hands
	// its mastership over before it exits).
	var termSwitch time.Duration
	for round := range 6 {
		s = c.waitSet(60*time.Second, "a full SyncStateSet", full)
		n := len(load.acked())
		testutil.WaitFor(t, 30*time.Second, func() bool { return len(load.acked()) >= n+50 }, "sends acknowledged before the kill")
		victim := c.brokers[s.MasterBrokerID]
		victims = append(victims, victim.id)
		checkCommittedOffsets(t, c.cli, victim.addr, "fo-consumer", "FOTopic", fc, fmt.Sprintf("round %d, before the kill", round))
		// Round 1: both slaves stopped (SIGSTOP) for a moment before the kill, so the master
		// holds a message the SyncStateSet does not have when it dies; the consumer must not
		// have been given it (it is not in the new master's log).
		var stopped []*foBroker
		if round == 1 {
			for _, b := range c.brokers {
				if b != victim {
					if err := b.proc.Signal(syscall.SIGSTOP); err != nil {
						t.Fatal(err)
					}
					stopped = append(stopped, b)
				}
			}
			time.Sleep(400 * time.Millisecond)
		}
		// Round 2 also kills the name server whose controller is the Raft leader.
		var leaderNS *foNamesrv
		if round == 2 {
			leaderNS = c.raftLeader()
		}
		// Round 0: topics and groups created on the master just before the kill.
		var meta foMeta
		if round == 0 {
			meta = foCreateMetadata(t, c.cli, victim.addr, "0")
		}
		killed := time.Now()
		if round == 5 {
			victim.killed = true
			if err := victim.proc.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		} else {
			victim.kill()
		}
		for _, b := range stopped {
			if err := b.proc.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
		}
		if leaderNS != nil {
			leaderNS.proc.Kill()
			t.Logf("round %d: killed the Raft leader's name server %s with the master", round, leaderNS.addr)
		}
		next := c.waitSet(foHeartbeatTimeout+20*time.Second, "a new master",
			func(n foSet) bool {
				return n.MasterBrokerID != 0 && n.MasterBrokerID != victim.id && n.MasterEpoch > s.MasterEpoch
			})
		if !slices.Contains(s.SyncStateSet, next.MasterBrokerID) {
			t.Fatalf("round %d: new master %d was not in the SyncStateSet %v", round, next.MasterBrokerID, s.SyncStateSet)
		}
		if round == 0 {
			foCheckMetadata(t, c.cli, next.MasterAddress, meta)
		}
		var first ack
		testutil.WaitFor(t, foHeartbeatTimeout+15*time.Second, func() bool {
			var ok bool
			first, ok = load.firstAckAfter(killed, victim.addr)
			return ok
		}, "the first send acknowledged after the kill")
		d := first.at.Sub(killed)
		if round == 5 {
			termSwitch = d
			if code, err := victim.proc.Wait(30 * time.Second); err != nil || code != 0 {
				t.Errorf("round 5: the master stopped with SIGTERM exited with %d, %v", code, err)
			}
			if !strings.Contains(victim.proc.Log(), "mastership handed over before shutdown") {
				t.Errorf("round 5: the master stopped with SIGTERM did not hand its mastership over:\n%s", victim.proc.LogTail(30))
			}
		} else {
			switches = append(switches, d)
		}
		t.Logf("round %d at %s: stopped master %d (epoch %d) with %s; master %d elected in epoch %d; first ack after %v (by %s)",
			round, killed.Format("15:04:05.000"), victim.id, s.MasterEpoch, map[bool]string{true: "SIGTERM", false: "SIGKILL"}[round == 5],
			next.MasterBrokerID, next.MasterEpoch, d.Round(time.Millisecond), first.broker)
		if d > foHeartbeatTimeout+5*time.Second {
			t.Errorf("round %d: first acknowledged send %v after the kill, want ≤ %v", round, d, foHeartbeatTimeout+5*time.Second)
		}
		// The push consumer (30 s periodic route refresh) follows the new master at once.
		var resumed time.Duration
		testutil.WaitFor(t, foHeartbeatTimeout+20*time.Second, func() bool {
			var ok bool
			resumed, ok = fc.firstAfter(killed, load.acked(), next.MasterAddress)
			return ok
		}, "the consumer receiving a message acknowledged by the new master")
		resumes = append(resumes, resumed)
		t.Logf("round %d: the consumer received the first message of the new master %v after the kill", round, resumed.Round(time.Millisecond))
		if resumed > foHeartbeatTimeout+10*time.Second {
			t.Errorf("round %d: the consumer resumed %v after the kill, want ≤ %v (well before its 30 s route refresh)", round, resumed, foHeartbeatTimeout+10*time.Second)
		}
		time.Sleep(time.Second) // a commit interval and more: the consumer commits to the new master
		checkCommittedOffsets(t, c.cli, next.MasterAddress, "fo-consumer", "FOTopic", fc, fmt.Sprintf("round %d, after the election", round))
		victim.start(t)
		if leaderNS != nil {
			leaderNS.start(t)
		}
	}
	c.waitSet(60*time.Second, "the last victim back in the SyncStateSet", full)
	n := len(load.acked())
	testutil.WaitFor(t, 30*time.Second, func() bool { return len(load.acked()) >= n+20 }, "sends after the last switch")
	load.halt()
	acks := load.acked()
	final := c.waitSet(10*time.Second, "the final state", full)
	master := c.brokers[final.MasterBrokerID]
	// All replicas reach the same end with the same epoch history, and the same bytes.
	var end int64
	testutil.WaitFor(t, 30*time.Second, func() bool {
		var ends []int64
		for _, b := range c.brokers {
			e, err := c.epochCache(b)
			if err != nil {
				return false
			}
			ends = append(ends, e.MaxOffset)
		}
		end = ends[0]
		return ends[0] == ends[1] && ends[1] == ends[2]
	}, "every replica at the master's end")
	want := commitLogBytes(t, master.store, end)
	mc, _ := c.epochCache(master)
	for _, b := range c.brokers {
		if b == master {
			continue
		}
		if !bytes.Equal(commitLogBytes(t, b.store, end), want) {
			t.Errorf("replica %d's commit log differs from the master's (%d bytes)", b.id, end)
		}
		if e, _ := c.epochCache(b); fmt.Sprint(e.Entries) != fmt.Sprint(mc.Entries) {
			t.Errorf("replica %d's epochs %v differ from the master's %v", b.id, e.Entries, mc.Entries)
		}
	}
	lost := checkNoLoss(t, c.cli, master.addr, "FOTopic", acks)
	// The consumer: every acknowledged message delivered (no offset moved past one), and nothing
	// delivered that the final log does not hold (a message the SyncStateSet never had).
	testutil.WaitFor(t, 30*time.Second, func() bool {
		got := fc.consumed()
		for _, a := range acks {
			if _, ok := got[a.seq]; !ok {
				return false
			}
		}
		return true
	}, "every acknowledged message delivered to the consumer")
	stored := map[int]bool{}
	for q := int32(0); q < 4; q++ {
		for _, seq := range readQueue(t, c.cli, master.addr, "FOTopic", q) {
			stored[seq] = true
		}
	}
	phantoms := 0
	for seq := range fc.consumed() {
		if !stored[seq] {
			phantoms++
			t.Errorf("the consumer was given seq-%07d, which no replica kept (a master handed out a message its SyncStateSet did not have)", seq)
		}
	}
	checkCommittedOffsets(t, c.cli, master.addr, "fo-consumer", "FOTopic", fc, "at the end")
	sorted := slices.Clone(switches)
	slices.Sort(sorted)
	sortedResumes := slices.Clone(resumes)
	slices.Sort(sortedResumes)
	load.mu.Lock()
	t.Logf("FAILOVER-RESULT switches=%d victims=%v kill-to-first-ack median=%v max=%v acked=%d lost=%d failedSends=%d sent=%d epochs=%v",
		len(switches), victims, sorted[len(sorted)/2].Round(time.Millisecond), sorted[len(sorted)-1].Round(time.Millisecond),
		len(acks), lost, load.failed, load.sent, mc.Entries)
	t.Logf("FAILOVER-SIGTERM-RESULT stop-to-first-ack=%v (handover)", termSwitch.Round(time.Millisecond))
	t.Logf("FAILOVER-CONSUMER-RESULT kill-to-first-delivery-from-new-master median=%v max=%v delivered=%d phantoms=%d",
		sortedResumes[len(sortedResumes)/2].Round(time.Millisecond), sortedResumes[len(sortedResumes)-1].Round(time.Millisecond), len(fc.consumed()), phantoms)
	load.mu.Unlock()
}

// TestFailoverLaggingReplicaNeverElected: replica 3 falls out of the SyncStateSet while it is
// down; when the master then dies, replica 3 (alive again but outside the set) is never elected
// with enableElectUncleanMaster = false: the set stays without a master until a member returns.
// Then a planned electMaster hands the role over with no acknowledged message lost.
func TestFailoverLaggingReplicaNeverElected(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	c := startFailoverCluster(t, "")
	s := c.waitSet(60*time.Second, "a master and a full SyncStateSet", full)
	foCreateTopic(t, c.cli, s.MasterAddress, "FOLag")
	load := startFoLoad(t, c.nsAddr, "FOLag")
	defer func() {
		select {
		case <-load.done:
		default:
			load.halt()
		}
	}()
	master := c.brokers[s.MasterBrokerID]
	var others []*foBroker
	for _, id := range []int64{1, 2, 3} {
		if id != master.id {
			others = append(others, c.brokers[id])
		}
	}
	laggard, member := others[0], others[1]
	laggard.kill()
	c.waitSet(30*time.Second, "the dead replica removed from the SyncStateSet", func(n foSet) bool {
		return n.MasterBrokerID == master.id && !slices.Contains(n.SyncStateSet, laggard.id) && len(n.SyncStateSet) == 2
	})
	member.kill()
	c.waitSet(30*time.Second, "the SyncStateSet down to the master", func(n foSet) bool {
		return n.MasterBrokerID == master.id && len(n.SyncStateSet) == 1
	})
	n := len(load.acked())
	testutil.WaitFor(t, 30*time.Second, func() bool { return len(load.acked()) >= n+30 }, "sends acknowledged by the master alone")
	// A topic only the master has (the others are down): a replica must get it before it rejoins
	// the SyncStateSet (checked on the laggard once it is the planned master below).
	if r, err := haCall(t, c.cli, master.addr, remoting.UpdateAndCreateTopic, map[string]string{"topic": "FOLagMeta", "readQueueNums": "2",
		"writeQueueNums": "2", "perm": "6"}, nil); err != nil || r.Code != remoting.Success {
		t.Fatalf("create topic FOLagMeta on the master alone: %v %v", r, err)
	}
	laggard.start(t) // alive again, but behind and outside the SyncStateSet
	testutil.WaitFor(t, 30*time.Second, func() bool {
		st, ok := c.state()
		if !ok {
			return false
		}
		for _, r := range st.Replicas {
			if r.BrokerID == laggard.id && r.Alive {
				return true
			}
		}
		return false
	}, "the laggard heartbeating again")
	before, _ := c.state()
	master.kill()
	// Well past the heartbeat timeout: the master is fenced (new epoch, no master), and the laggard
	// is never named.
	fenced := c.waitSet(foHeartbeatTimeout+20*time.Second, "the dead master fenced", func(n foSet) bool { return n.MasterEpoch > before.MasterEpoch })
	deadline := time.Now().Add(2 * foHeartbeatTimeout)
	for time.Now().Before(deadline) {
		if st, ok := c.state(); ok && st.MasterBrokerID != 0 {
			t.Fatalf("replica %d became master outside the SyncStateSet %v (epoch %d)", st.MasterBrokerID, fenced.SyncStateSet, st.MasterEpoch)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The only member returns: it is master again, and both others follow it.
	master.start(t)
	member.start(t)
	s = c.waitSet(60*time.Second, "the old master re-elected and the set full", func(n foSet) bool { return n.MasterBrokerID == master.id && full(n) })
	// Planned handover to the former laggard, under load.
	n = len(load.acked())
	testutil.WaitFor(t, 30*time.Second, func() bool { return len(load.acked()) >= n+30 }, "sends before the planned switch")
	// Through mqadmin, as an operator would.
	if code, out, errOut := runAdmin(t, nil, "electMaster", "-n", c.nsAddr, "-b", "broker-fo", "-i", strconv.FormatInt(laggard.id, 10)); code != 0 ||
		!strings.Contains(out, fmt.Sprintf(`"masterBrokerId": %d`, laggard.id)) {
		t.Fatalf("mqadmin electMaster: exit %d\n%s\n%s", code, out, errOut)
	}
	s = c.waitSet(20*time.Second, "the planned master", func(n foSet) bool { return n.MasterBrokerID == laggard.id })
	if r, err := haCall(t, c.cli, laggard.addr, remoting.GetAllTopicConfig, nil, nil); err != nil || r.Code != remoting.Success {
		t.Fatalf("topics of %s: %v %v", laggard.addr, r, err)
	} else if !strings.Contains(string(r.Body), `"FOLagMeta"`) {
		t.Errorf("the planned master %s (it rejoined the SyncStateSet) lacks topic FOLagMeta, created while it was down", laggard.addr)
	}
	if code, out, errOut := runAdmin(t, nil, "getSyncStateSet", "-n", c.nsAddr, "-b", "broker-fo"); code != 0 || !strings.Contains(out, `"brokerName": "broker-fo"`) {
		t.Fatalf("mqadmin getSyncStateSet: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runAdmin(t, nil, "getControllerMetaData", "-a", c.nsAddr); code != 0 || !strings.Contains(out, `"controllerLeaderId": "n`) {
		t.Fatalf("mqadmin getControllerMetaData: exit %d\n%s\n%s", code, out, errOut)
	}
	testutil.WaitFor(t, 20*time.Second, func() bool {
		code, out, _ := runAdmin(t, nil, "getBrokerEpoch", "-n", c.nsAddr, "-b", "broker-fo")
		return code == 0 && strings.Count(out, `"master": true`) == 1 && strings.Count(out, fmt.Sprintf(`"epoch": %d`, s.MasterEpoch)) == 3
	}, "mqadmin getBrokerEpoch: every replica with the new epoch, one master")
	if code, _, errOut := runAdmin(t, nil, "electMaster", "-n", c.nsAddr, "-b", "broker-fo", "-i", "9"); code == 0 || !strings.Contains(errOut, "9") {
		t.Fatalf("mqadmin electMaster of an unknown replica: exit %d %s", code, errOut)
	}
	n = len(load.acked())
	testutil.WaitFor(t, 30*time.Second, func() bool { return len(load.acked()) >= n+30 }, "sends after the planned switch")
	load.halt()
	acks := load.acked()
	lost := checkNoLoss(t, c.cli, laggard.addr, "FOLag", acks)
	load.mu.Lock()
	t.Logf("FAILOVER-LAG-RESULT acked=%d lost=%d failedSends=%d sent=%d", len(acks), lost, load.failed, load.sent)
	load.mu.Unlock()
}

// TestFailoverPartitionedMaster cuts the master off from the controller and from the other
// replicas while the producer still reaches it: it stops acknowledging (its lease runs out and
// the SyncStateSet cannot acknowledge), a new master is elected, and no send is acknowledged by
// the old master after the new one acknowledged any (the producer sends one message at a time, so
// acknowledgements are ordered). Healed, the old master learns the new epoch, cuts its
// unacknowledged tail and follows; nothing acknowledged is lost and all logs end equal.
func TestFailoverPartitionedMaster(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	c := startFailoverClusterProxied(t, "", true)
	s := c.waitSet(60*time.Second, "a master and a full SyncStateSet", full)
	foCreateTopic(t, c.cli, s.MasterAddress, "FOPart")
	load := startFoLoad(t, c.nsAddr, "FOPart")
	defer func() {
		select {
		case <-load.done:
		default:
			load.halt()
		}
	}()
	n := len(load.acked())
	testutil.WaitFor(t, 30*time.Second, func() bool { return len(load.acked()) >= n+100 }, "sends before the partition")
	old := c.brokers[s.MasterBrokerID]
	cutAt := time.Now()
	old.cut()
	next := c.waitSet(foHeartbeatTimeout+20*time.Second, "a new master", func(n foSet) bool {
		return n.MasterBrokerID != 0 && n.MasterBrokerID != old.id && n.MasterEpoch > s.MasterEpoch
	})
	newMaster := c.brokers[next.MasterBrokerID]
	var firstNew ack
	testutil.WaitFor(t, 30*time.Second, func() bool {
		var ok bool
		firstNew, ok = load.firstAckAfter(cutAt, old.addr)
		return ok
	}, "a send acknowledged by the new master")
	n = len(load.acked())
	testutil.WaitFor(t, 30*time.Second, func() bool { return len(load.acked()) >= n+50 }, "sends on the new master")
	old.heal()
	healAt := time.Now()
	c.waitSet(60*time.Second, "the old master back in the SyncStateSet as a slave", func(n foSet) bool {
		return n.MasterBrokerID == newMaster.id && full(n)
	})
	n = len(load.acked())
	testutil.WaitFor(t, 30*time.Second, func() bool { return len(load.acked()) >= n+20 }, "sends after the heal")
	load.halt()
	acks := load.acked()
	var lastOld ack
	for _, a := range acks {
		if a.broker == old.addr {
			lastOld = a
		}
		if a.broker == old.addr && a.seq > firstNew.seq {
			t.Errorf("the old master acknowledged seq-%07d after the new master acknowledged seq-%07d", a.seq, firstNew.seq)
		}
	}
	// The old master's lease runs out heartbeat-timeout after its last heartbeat was sent; a send
	// that was waiting for its replicas then is not acknowledged either (1 s of slack for the
	// answer's way back to the producer).
	if d := lastOld.at.Sub(cutAt); d > foHeartbeatTimeout+time.Second {
		t.Errorf("the partitioned master acknowledged seq-%07d %v after the cut, past its lease", lastOld.seq, d)
	}
	var end int64
	testutil.WaitFor(t, 30*time.Second, func() bool {
		var ends []int64
		for _, b := range c.brokers {
			e, err := c.epochCache(b)
			if err != nil {
				return false
			}
			ends = append(ends, e.MaxOffset)
		}
		end = ends[0]
		return ends[0] == ends[1] && ends[1] == ends[2]
	}, "every replica at the master's end")
	if !bytes.Equal(commitLogBytes(t, old.store, end), commitLogBytes(t, newMaster.store, end)) {
		t.Errorf("the old master's log differs from the new master's after the heal")
	}
	lost := checkNoLoss(t, c.cli, newMaster.addr, "FOPart", acks)
	truncated := strings.Count(old.proc.Log(), "truncating the divergent tail")
	load.mu.Lock()
	t.Logf("FAILOVER-PARTITION-RESULT old-master-truncations=%d cut-to-last-old-ack=%v cut-to-first-new-ack=%v heal-to-in-sync=%v acked=%d lost=%d failedSends=%d sent=%d",
		truncated, lastOld.at.Sub(cutAt).Round(time.Millisecond), firstNew.at.Sub(cutAt).Round(time.Millisecond), time.Since(healAt).Round(time.Millisecond),
		len(acks), lost, load.failed, load.sent)
	load.mu.Unlock()
}
