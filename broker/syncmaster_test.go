package broker

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
)

// handSlave is a slave that speaks the HA protocol by hand: it receives the master's log, knows
// where each record ends, and acknowledges only what the test tells it to.
type handSlave struct {
	c    net.Conn
	mu   sync.Mutex
	buf  []byte  // received bytes not yet split into records
	from int64   // commit-log offset of buf[0]
	ends []int64 // end offsets of the records received whole
}

func dialHandSlave(t *testing.T, addr string) *handSlave {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &handSlave{c: c, from: -1}
	s.ack(t, 0) // the first report is the request offset: the whole log
	go func() {
		hdr := make([]byte, 12)
		for {
			if _, err := io.ReadFull(c, hdr); err != nil {
				return
			}
			off, n := int64(binary.BigEndian.Uint64(hdr)), int(binary.BigEndian.Uint32(hdr[8:]))
			data := make([]byte, n)
			if _, err := io.ReadFull(c, data); err != nil {
				return
			}
			s.mu.Lock()
			if s.from < 0 {
				s.from = off
			}
			s.buf = append(s.buf, data...)
			for len(s.buf) >= 4 {
				size := int(binary.BigEndian.Uint32(s.buf))
				if size <= 0 || len(s.buf) < size {
					break
				}
				s.from += int64(size)
				s.ends = append(s.ends, s.from)
				s.buf = s.buf[size:]
			}
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *handSlave) records() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ends)
}

func (s *handSlave) ack(t *testing.T, off int64) {
	t.Helper()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(off))
	if _, err := s.c.Write(b[:]); err != nil {
		t.Fatal(err)
	}
}

// sendAnswer is one answered send: its record's commit-log offset (from the offset msgId).
type sendAnswer struct {
	code   int32
	offset int64
}

// sendMany sends n messages asynchronously on one connection and collects the answers in the
// order they arrive.
func sendMany(t *testing.T, tb *testBroker, n int) (func() []sendAnswer, *sync.WaitGroup) {
	t.Helper()
	var mu sync.Mutex
	var got []sendAnswer
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	for i := range n {
		props := map[string]string{message.PropertyUniqKey: message.NewUniqKey()}
		ext := map[string]string{
			"producerGroup": "pg", "topic": "SyncRep", "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
			"queueId": strconv.Itoa(i % 4), "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
			"flag": "0", "properties": message.FormatProperties(props), "reconsumeTimes": "0", "unitMode": "false",
			"batch": "false", "maxReconsumeTimes": "0",
		}
		wg.Add(1)
		err := tb.cli.InvokeAsync(ctx, tb.addr, remoting.NewRequest(remoting.SendMessage, ext, []byte(fmt.Sprintf("m-%d", i))),
			func(r *remoting.Command, err error) {
				defer wg.Done()
				a := sendAnswer{code: -1, offset: -1}
				if err != nil {
					t.Errorf("send %d: %v", i, err)
				} else {
					a.code = r.Code
					if _, off, perr := message.ParseOffsetMsgID(r.ExtFields["msgId"]); perr == nil {
						a.offset = off
					}
				}
				mu.Lock()
				got = append(got, a)
				mu.Unlock()
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	return func() []sendAnswer { mu.Lock(); defer mu.Unlock(); return slices.Clone(got) }, &wg
}

// TestBrokerSyncMasterAnswersAfterTheAckWithoutParkedWorkers: on a SYNC_MASTER with 2 send
// workers, 40 sends in flight are all stored (and streamed to the slave) while the slave acks
// nothing, and none is answered: no worker waits for the ack. An ack covering the first 15
// records (and half of the 16th) answers exactly those 15; the final ack answers the rest, all
// SUCCESS. Both flush modes (SYNC_FLUSH: the answer waits for the msync too).
func TestBrokerSyncMasterAnswersAfterTheAckWithoutParkedWorkers(t *testing.T) {
	for _, flush := range []string{commitlog.AsyncFlush, commitlog.SyncFlush} {
		t.Run(flush, func(t *testing.T) {
			master := startBroker(t, func(c *Config) {
				c.BrokerRole, c.FlushDiskType = RoleSyncMaster, flush
				c.SlaveTimeout = 60000
				c.SendMessageThreadPoolNums = 2
			})
			// Topic auto-creation goes through the same path: create it before the slave exists.
			if r := master.send(t, "SyncRep", 0, "", "", "create"); r.Code != remoting.SlaveNotAvailable {
				t.Fatalf("send without a slave = %d %q", r.Code, r.Remark)
			}
			slave := dialHandSlave(t, "127.0.0.1:"+strconv.Itoa(master.b.conf().HaListenPort))
			start := master.b.store.MaxPhyOffset()
			waitFor(t, 10*time.Second, func() bool {
				r := slave.records()
				return len(r) > 0 && r[len(r)-1] == start
			}, "the slave to receive the existing log")
			slave.ack(t, start)
			waitFor(t, 10*time.Second, func() bool { return master.b.haMaster.PushMax() == start }, "the first ack")
			skip := len(slave.records())

			const n = 40 // 20 x the 2 send workers
			answered, wg := sendMany(t, master, n)
			waitFor(t, 10*time.Second, func() bool { return len(slave.records()) == skip+n }, "every send stored and streamed")
			waitFor(t, 10*time.Second, func() bool { return master.b.haMaster.PendingAcks() == n }, "every send waiting for its ack")
			time.Sleep(100 * time.Millisecond)
			if a := answered(); len(a) != 0 {
				t.Fatalf("%d sends answered before the slave acknowledged anything: %+v", len(a), a)
			}
			if o := master.b.srv.Owed(); o != n {
				t.Fatalf("owed answers %d, want %d", o, n)
			}
			all := slave.records()
			starts, ends := all[skip-1:skip+n-1], all[skip:]
			// Acknowledge the first 15 records and half of the 16th.
			const k = 15
			slave.ack(t, ends[k-1]+(ends[k]-ends[k-1])/2)
			waitFor(t, 10*time.Second, func() bool { return len(answered()) >= k }, "the covered answers")
			time.Sleep(100 * time.Millisecond)
			// Exactly the covered records are answered (the client runs its callbacks on goroutines
			// of their own, so their order is not the wire's; package ha tests the answer order).
			checkAnswered(t, answered(), starts[:k])
			slave.ack(t, ends[n-1])
			wg.Wait()
			checkAnswered(t, answered(), starts)
		})
	}
}

// checkAnswered fails unless the answers are SUCCESS for exactly the records starting at want.
func checkAnswered(t *testing.T, got []sendAnswer, want []int64) {
	t.Helper()
	offs := make([]int64, 0, len(got))
	for _, a := range got {
		if a.code != remoting.Success {
			t.Fatalf("answer for the record at %d: code %d, want SUCCESS", a.offset, a.code)
		}
		offs = append(offs, a.offset)
	}
	slices.Sort(offs)
	if !slices.Equal(offs, want) {
		t.Fatalf("answered the records at %v, want exactly %v (the ones the ack covers)", offs, want)
	}
}

// TestBrokerSyncMasterAckTimeout: when the slave never acknowledges, a SYNC_MASTER send is
// answered FLUSH_SLAVE_TIMEOUT after slaveTimeout (stored, with its msgId), never SUCCESS.
func TestBrokerSyncMasterAckTimeout(t *testing.T) {
	master := startBroker(t, func(c *Config) { c.BrokerRole = RoleSyncMaster; c.SlaveTimeout = 200; c.SendMessageThreadPoolNums = 2 })
	slave := dialHandSlave(t, "127.0.0.1:"+strconv.Itoa(master.b.conf().HaListenPort))
	waitFor(t, 10*time.Second, func() bool { return master.b.haMaster.SlaveOK(master.b.store.MaxPhyOffset(), 1<<30) }, "the slave to connect")
	_ = slave
	t0 := time.Now()
	answered, wg := sendMany(t, master, 10)
	wg.Wait()
	if el := time.Since(t0); el < 200*time.Millisecond {
		t.Fatalf("answered after %v, before slaveTimeout", el)
	}
	for i, a := range answered() {
		if a.code != remoting.FlushSlaveTimeout || a.offset < 0 {
			t.Fatalf("answer %d without an ack: code %d offset %d, want FLUSH_SLAVE_TIMEOUT with a msgId", i, a.code, a.offset)
		}
	}
}
