package broker

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
)

// startPair starts a SYNC_MASTER and its slave and waits until the slave is counted.
// slaveHook, when not nil, runs on the slave between New and Start.
func startPair(t *testing.T, slaveHook func(*Broker)) (master, slave *testBroker) {
	t.Helper()
	master = startBroker(t, func(c *Config) { c.BrokerRole = RoleSyncMaster; c.SlaveTimeout = 2000 })
	slave = startBrokerHook(t, func(c *Config) {
		c.BrokerRole, c.BrokerID = RoleSlave, 1
		c.HaMasterAddress = "127.0.0.1:" + strconv.Itoa(master.b.conf().HaListenPort)
	}, slaveHook)
	waitFor(t, 10*time.Second, func() bool { return master.b.haMaster.SlaveOK(master.b.store.MaxPhyOffset(), 1<<30) }, "the slave to connect")
	return master, slave
}

func TestBrokerSyncMasterWaitsForSlave(t *testing.T) {
	lonely := startBroker(t, func(c *Config) { c.BrokerRole = RoleSyncMaster; c.SlaveTimeout = 2000 })
	// Without a slave a SYNC_MASTER stores the message but answers SLAVE_NOT_AVAILABLE.
	if r := lonely.send(t, "Rep", 0, "", "", "lonely"); r.Code != remoting.SlaveNotAvailable || r.ExtFields["msgId"] == "" {
		t.Fatalf("send without slave = %d %q %v", r.Code, r.Remark, r.ExtFields)
	}
	master, slave := startPair(t, nil)
	for i := 0; i < 5; i++ {
		r := master.send(t, "Rep", 0, "TagA", "", "replicated-"+strconv.Itoa(i))
		if r.Code != remoting.Success {
			t.Fatalf("send %d with a slave = %d %q", i, r.Code, r.Remark)
		}
		// SUCCESS means a slave acknowledged the bytes: they are in the slave's commit log now.
		if slave.b.store.MaxPhyOffset() < master.b.store.MaxPhyOffset() {
			t.Fatalf("SUCCESS before the slave had the bytes: slave %d master %d", slave.b.store.MaxPhyOffset(), master.b.store.MaxPhyOffset())
		}
	}
	// A slave refuses sends.
	if r := slave.send(t, "Rep", 0, "", "", "x"); r.Code != remoting.ServiceNotAvailable {
		t.Fatalf("send to a slave = %d", r.Code)
	}
	// With the slave gone the master tells the producer the message is not replicated.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := slave.b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	code := int32(-1)
	waitFor(t, 10*time.Second, func() bool {
		code = master.send(t, "Rep", 0, "", "", "after").Code
		return code == remoting.SlaveNotAvailable
	}, "SLAVE_NOT_AVAILABLE after the slave stopped")
}

// TestBrokerSlaveSyncsMetadataAndServesReads: the slave's own sync loop copies topics (21),
// consumer offsets (43), delay offsets (45) and subscription groups (201) from the master — first
// 3 s after start, then every 10 s; shortened here to 0.2 s and 0.5 s — so that with the master
// down a consumer reading from the slave finds the messages and continues from its committed
// offset. The slave learns the master's address from its registration answer; without a name
// server in this package the test sets it as that answer would.
func TestBrokerSlaveSyncsMetadataAndServesReads(t *testing.T) {
	master, slave := startPair(t, func(b *Broker) { b.slaveSyncFirst, b.slaveSyncEvery = 200*time.Millisecond, 500*time.Millisecond })
	for i := 0; i < 4; i++ {
		if r := master.send(t, "Rep", 0, "", "", "replicated-"+strconv.Itoa(i)); r.Code != remoting.Success {
			t.Fatalf("send %d = %d %q", i, r.Code, r.Remark)
		}
	}
	// A delayed message: the master's schedule loop moves delay level 1's offset to 1 after 1 s.
	props := map[string]string{message.PropertyUniqKey: message.NewUniqKey(), message.PropertyDelayLevel: "1"}
	ext := map[string]string{
		"producerGroup": "pg", "topic": "Rep", "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		"queueId": "1", "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
		"flag": "0", "properties": message.FormatProperties(props), "reconsumeTimes": "0", "unitMode": "false",
		"batch": "false", "maxReconsumeTimes": "0",
	}
	if r := master.call(t, remoting.SendMessage, ext, []byte("delayed"), 5*time.Second); r.Code != remoting.Success {
		t.Fatalf("delayed send = %d %q", r.Code, r.Remark)
	}
	group := metadata.DefaultGroupConfig("syncedGroup")
	group.RetryMaxTimes = 7
	body, _ := json.Marshal(group)
	if r := master.call(t, remoting.UpdateAndCreateSubscriptionGroup, nil, body, 3*time.Second); r.Code != remoting.Success {
		t.Fatalf("create group = %d %q", r.Code, r.Remark)
	}
	commit := func(offset int64) {
		t.Helper()
		r := master.call(t, remoting.UpdateConsumerOffset, map[string]string{"consumerGroup": "syncedGroup", "topic": "Rep", "queueId": "0", "commitOffset": strconv.FormatInt(offset, 10)}, nil, 3*time.Second)
		if r.Code != remoting.Success {
			t.Fatalf("commit offset = %d", r.Code)
		}
	}
	commit(3)
	waitFor(t, 10*time.Second, func() bool { return master.b.delayOffsets.Get(1) == 1 }, "the master's delay level 1 to deliver")

	slave.b.masterAddr.Store(master.addr) // what the registration answer tells a slave
	waitFor(t, 20*time.Second, func() bool {
		g, ok := slave.b.groups.Get("syncedGroup")
		_, topic := slave.b.topics.Get("Rep")
		return topic && ok && g.RetryMaxTimes == 7 && slave.b.offsets.Query("syncedGroup", "Rep", 0) == 3 && slave.b.delayOffsets.Get(1) == 1
	}, "the slave's first metadata sync (topic, group, consumer offset 3, delay offset 1)")
	// The loop keeps syncing: a later commit reaches the slave at a later round.
	commit(4)
	waitFor(t, 20*time.Second, func() bool { return slave.b.offsets.Query("syncedGroup", "Rep", 0) == 4 }, "the next metadata sync (consumer offset 4)")

	// With the master down, the slave serves the messages and the committed offset.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := master.b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	slave.b.store.WaitDispatched(slave.b.store.MaxPhyOffset(), 5*time.Second)
	r := slave.call(t, remoting.QueryConsumerOffset, map[string]string{"consumerGroup": "syncedGroup", "topic": "Rep", "queueId": "0"}, nil, 3*time.Second)
	if r.Code != remoting.Success || r.ExtFields["offset"] != "4" {
		t.Fatalf("offset on the slave with the master down = code %d %q, want 4", r.Code, r.ExtFields["offset"])
	}
	slave.heartbeat(t, "syncedGroup", "127.0.0.1@9", map[string]string{"Rep": "*"})
	r = slave.call(t, remoting.PullMessage, pullExt("syncedGroup", "Rep", 0, 0, 0x2, 1000, ""), nil, 5*time.Second)
	if r.Code != remoting.Success {
		t.Fatalf("pull from the slave = %d %q", r.Code, r.Remark)
	}
	msgs := decodeBody(t, r.Body)
	if len(msgs) != 4 || string(msgs[3].Body) != "replicated-3" {
		t.Fatalf("slave returned %d messages, want the 4 replicated ones", len(msgs))
	}
}

func TestBrokerSuggestsSlaveForSlowConsumers(t *testing.T) {
	// With slaveReadEnable, a consumer reading data further behind the commit-log end than the
	// in-memory window (here 0 % of RAM, so any lag) is steered to the group's
	// whichBrokerWhenConsumeSlowly (1); at the end of the log it stays on the master (0).
	tb := startBroker(t, func(c *Config) { c.SlaveReadEnable = true; c.AccessMessageInMemoryMaxRatio = 0 })
	for i := 0; i < 5; i++ {
		tb.send(t, "Slow", 0, "", "", "m")
	}
	tb.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"Slow": "*"})
	ext := pullExt("cg", "Slow", 0, 0, 0, 0, "")
	ext["maxMsgNums"] = "1"
	r := tb.call(t, remoting.PullMessage, ext, nil, 5*time.Second)
	if r.Code != remoting.Success || r.ExtFields["suggestWhichBrokerId"] != "1" {
		t.Fatalf("lagging pull: code %d suggest %q, want 1", r.Code, r.ExtFields["suggestWhichBrokerId"])
	}
	ext["queueOffset"] = "4"
	r = tb.call(t, remoting.PullMessage, ext, nil, 5*time.Second)
	if r.Code != remoting.Success || r.ExtFields["suggestWhichBrokerId"] != "0" {
		t.Fatalf("pull of the newest message: code %d suggest %q, want 0", r.Code, r.ExtFields["suggestWhichBrokerId"])
	}
	// Without slaveReadEnable the master always keeps the consumer.
	tb2 := startBroker(t, func(c *Config) { c.AccessMessageInMemoryMaxRatio = 0 })
	tb2.send(t, "Slow", 0, "", "", "m")
	tb2.send(t, "Slow", 0, "", "", "m")
	tb2.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"Slow": "*"})
	ext["queueOffset"] = "0"
	if r := tb2.call(t, remoting.PullMessage, ext, nil, 5*time.Second); r.ExtFields["suggestWhichBrokerId"] != "0" {
		t.Fatalf("slaveReadEnable=false suggests %q", r.ExtFields["suggestWhichBrokerId"])
	}
}
