package broker

import (
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
)

// stuckSlave speaks the slave side of the HA protocol to the master at addr: it asks for the
// master's log from offset and acknowledges exactly offset, again and again, whatever arrives.
// To the master it is a connected slave that never catches up.
func stuckSlave(t *testing.T, addr string, offset int64) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); _ = c.Close() })
	go func() { _, _ = io.Copy(io.Discard, c) }()
	report := func() error {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(offset))
		_, err := c.Write(b[:])
		return err
	}
	if err := report(); err != nil { // the request offset
		t.Fatal(err)
	}
	go func() {
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			if report() != nil { // the ack that never moves
				return
			}
			select {
			case <-done:
				return
			case <-tk.C:
			}
		}
	}()
}

// TestBrokerSendFlushSlaveTimeout: a SYNC_MASTER whose only slave is connected but never
// acknowledges the new bytes stores the message and answers FLUSH_SLAVE_TIMEOUT (12) with the
// message's ids after slaveTimeout; the message is readable on the master.
func TestBrokerSendFlushSlaveTimeout(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.BrokerRole = RoleSyncMaster; c.SlaveTimeout = 300 })
	start := tb.b.store.MaxPhyOffset()
	stuckSlave(t, "127.0.0.1:"+strconv.Itoa(tb.b.conf().HaListenPort), start)
	waitFor(t, 10*time.Second, func() bool { return tb.b.haMaster.SlaveOK(start, 1<<30) }, "the stuck slave to be counted")
	r := tb.send(t, "SlaveSlow", 0, "", "", "not replicated")
	if r.Code != remoting.FlushSlaveTimeout || r.ExtFields["msgId"] == "" || r.ExtFields["queueOffset"] != "0" {
		t.Fatalf("send with a slave that never acks = code %d remark %q ext %v, want FLUSH_SLAVE_TIMEOUT with the ids", r.Code, r.Remark, r.ExtFields)
	}
	tb.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"SlaveSlow": "*"})
	p := tb.call(t, remoting.PullMessage, pullExt("cg", "SlaveSlow", 0, 0, 0, 0, ""), nil, 5*time.Second)
	if msgs := decodeBody(t, p.Body); p.Code != remoting.Success || len(msgs) != 1 || string(msgs[0].Body) != "not replicated" {
		t.Fatalf("pull after FLUSH_SLAVE_TIMEOUT = code %d, want the stored message", p.Code)
	}
}

// TestBrokerSendMessageIllegal: a body over maxMessageSize, properties over 32767 bytes and an
// invalid topic name are refused with MESSAGE_ILLEGAL (13) or, for the topic, a refusal naming
// it, and nothing reaches the commit log.
func TestBrokerSendMessageIllegal(t *testing.T) {
	tb := startBroker(t, nil)
	tb.send(t, "Legal", 0, "", "", "fine")
	before := tb.b.store.MaxPhyOffset()
	sendRaw := func(topic string, props map[string]string, body []byte) *remoting.Command {
		props[message.PropertyUniqKey] = message.NewUniqKey()
		ext := map[string]string{
			"producerGroup": "pg", "topic": topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
			"queueId": "0", "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
			"flag": "0", "properties": message.FormatProperties(props), "reconsumeTimes": "0", "unitMode": "false",
			"batch": "false", "maxReconsumeTimes": "0",
		}
		return tb.call(t, remoting.SendMessage, ext, body, 5*time.Second)
	}
	if r := sendRaw("Legal", map[string]string{}, make([]byte, tb.b.conf().MaxMessageSize+1)); r.Code != remoting.MessageIllegal {
		t.Errorf("body of maxMessageSize+1 bytes = code %d %q, want MESSAGE_ILLEGAL", r.Code, r.Remark)
	}
	if r := sendRaw("Legal", map[string]string{"big": strings.Repeat("p", 32768)}, []byte("x")); r.Code != remoting.MessageIllegal {
		t.Errorf("properties of 32 KiB = code %d %q, want MESSAGE_ILLEGAL", r.Code, r.Remark)
	}
	if r := sendRaw("bad topic!", map[string]string{}, []byte("x")); r.Code == remoting.Success || !strings.Contains(r.Remark, "bad topic!") {
		t.Errorf("send to an invalid topic name = code %d %q, want a refusal naming the topic", r.Code, r.Remark)
	}
	if after := tb.b.store.MaxPhyOffset(); after != before {
		t.Fatalf("refused sends reached the commit log: max offset %d → %d", before, after)
	}
}

// TestBrokerPutCodes: the store's put statuses map to RocketMQ's response codes (the table of
// SendMessageProcessor: a full disk first fails to create a segment, SYSTEM_ERROR, and then makes
// the store not writeable, SERVICE_NOT_AVAILABLE).
func TestBrokerPutCodes(t *testing.T) {
	want := map[commitlog.PutStatus]int32{
		commitlog.PutOK:                  0,
		commitlog.FlushDiskTimeout:       10,
		commitlog.MessageIllegal:         13,
		commitlog.PropertiesSizeExceeded: 13,
		commitlog.ServiceNotAvailable:    14,
		commitlog.CreateMappedFileFailed: 1,
	}
	for s, code := range want {
		if got := putCode(s); got != code {
			t.Errorf("putCode(%s) = %d, want %d", putStatusName(s), got, code)
		}
	}
}
