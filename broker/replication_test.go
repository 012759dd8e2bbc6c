package broker

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
)

func TestBrokerSyncMasterWaitsForSlaveAndSlaveServesReads(t *testing.T) {
	master := startBroker(t, func(c *Config) { c.BrokerRole = RoleSyncMaster; c.SlaveTimeout = 2000 })
	// Without a slave a SYNC_MASTER stores the message but answers SLAVE_NOT_AVAILABLE.
	if r := master.send(t, "Rep", 0, "", "", "lonely"); r.Code != remoting.SlaveNotAvailable || r.ExtFields["msgId"] == "" {
		t.Fatalf("send without slave = %d %q %v", r.Code, r.Remark, r.ExtFields)
	}
	slave := startBroker(t, func(c *Config) {
		c.BrokerRole, c.BrokerID = RoleSlave, 1
		c.HaMasterAddress = "127.0.0.1:" + strconv.Itoa(master.b.conf().HaListenPort)
	})
	deadline := time.Now().Add(10 * time.Second)
	for !master.b.haMaster.SlaveOK(master.b.store.MaxPhyOffset(), 1<<30) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
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
	// The slave serves the same messages from its own consume queues.
	slave.b.store.WaitDispatched(slave.b.store.MaxPhyOffset(), 5*time.Second)
	slave.b.masterAddr.Store(master.addr)
	slave.b.syncFromMaster(context.Background(), master.addr)
	slave.heartbeat(t, "cg", "127.0.0.1@9", map[string]string{"Rep": "*"})
	r := slave.call(t, remoting.PullMessage, pullExt("cg", "Rep", 0, 0, 0x2, 1000, ""), nil, 5*time.Second)
	if r.Code != remoting.Success {
		t.Fatalf("pull from slave = %d %q", r.Code, r.Remark)
	}
	msgs := decodeBody(t, r.Body)
	if len(msgs) != 6 || string(msgs[5].Body) != "replicated-4" {
		t.Fatalf("slave returned %d messages", len(msgs))
	}
	// Topic configs came from the master's metadata.
	if _, ok := slave.b.topics.Get("Rep"); !ok {
		t.Fatal("topic Rep not synced to the slave")
	}
	// With the slave gone the master tells the producer the message is not replicated.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := slave.b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	code := int32(-1)
	for time.Now().Before(deadline) {
		if code = master.send(t, "Rep", 0, "", "", "after").Code; code == remoting.SlaveNotAvailable {
			break
		}
	}
	if code != remoting.SlaveNotAvailable {
		t.Fatalf("send after the slave stopped = %d, want SLAVE_NOT_AVAILABLE", code)
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
