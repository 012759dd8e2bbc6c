package itest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/testutil"
)

// checkpointFlushed reads the flushed offset of the newest valid slot of a store's checkpoint file
// (the format is drawn in commitlog/checkpoint.go: slots at 0 and 2048, sequence at 8, flushed
// offset at 40; the slot's CRC is not checked here, the magic is).
func checkpointFlushed(t *testing.T, storeDir string) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(storeDir, "checkpoint"))
	if err != nil || len(b) < 4096 {
		return -1
	}
	var seq uint64
	flushed := int64(-1)
	for _, at := range []int{0, 2048} {
		s := b[at : at+80]
		if binary.BigEndian.Uint32(s) != 0x534B4350 {
			continue
		}
		if q := binary.BigEndian.Uint64(s[8:]); q >= seq {
			seq, flushed = q, int64(binary.BigEndian.Uint64(s[40:]))
		}
	}
	return flushed
}

// storeFiles hashes the store's data files (not its logs or lock).
func storeFiles(t *testing.T, storeDir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, sub := range []string{"commitlog", "consumequeue", "index", "checkpoint"} {
		_ = filepath.WalkDir(filepath.Join(storeDir, sub), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			out[strings.TrimPrefix(p, storeDir)] = hex.EncodeToString(sum[:8])
			return nil
		})
	}
	return out
}

// TestStoreCorruptOldSegmentRefusesStartAndRepairKeepsTheRest flips one byte of a message in the
// oldest of several commit-log segments of a real broker that was then killed: the next start
// refuses with an error naming the file, changes no file, and `mqbroker --repair-store` sets the
// segment aside, after which the broker serves every other message.
func TestStoreCorruptOldSegmentRefusesStartAndRepairKeepsTheRest(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	t0 := time.Now()
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins,
		Broker: testutil.BrokerOptions{RegisterNameServerPeriod: 10000, MappedFileSizeCommitLog: 64 << 10,
			Extra: map[string]string{"maxMessageSize": "16384", "maxIndexNum": "4000", "maxHashSlotNum": "400"}}})
	a := newAdmin(t, c.NamesrvAddr)
	topic := "CorruptOld"
	if err := a.CreateTopic(ctxT(t, 5*time.Second), c.Broker.Addr, admin.TopicConfig{TopicName: topic, ReadQueueNums: 4, WriteQueueNums: 4}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, func() bool {
		_, err := a.TopicRoute(ctxT(t, 3*time.Second), topic)
		return err == nil
	}, "route of "+topic)
	rc := &rawClient{a: a, topic: topic, next: map[int32]int64{}}
	var sent []string
	pad := strings.Repeat("p", 1000)
	for i := 0; i < 180; i++ { // about 2.8 segments of 64 KiB
		b := fmt.Sprintf("m-%03d-%s", i, pad)
		if code, remark := rc.sendOne(t, b, int32(i%4)); code != remoting.Success {
			t.Fatalf("send %d: %d %s", i, code, remark)
		}
		sent = append(sent, b)
	}
	rc.waitPulled(t, sent, "every message before the crash")
	t.Logf("%v: sent and pulled", time.Since(t0))
	store := c.Broker.StoreDir
	testutil.WaitFor(t, 15*time.Second, func() bool { return checkpointFlushed(t, store) >= 128<<10 },
		"the checkpoint to cover two segments")
	t.Logf("%v: checkpoint covers two segments; killing the broker", time.Since(t0))
	c.Broker.Kill()

	seg0 := filepath.Join(store, "commitlog", "00000000000000000000")
	data, err := os.ReadFile(seg0)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(data, []byte("m-005-"))
	if at < 0 {
		t.Fatal("message m-005 not found in the first segment")
	}
	data[at+4] ^= 0x01 // "m-005" → "m-004": the body CRC no longer matches
	if err := os.WriteFile(seg0, data, 0o644); err != nil {
		t.Fatal(err)
	}
	before := storeFiles(t, store)

	cfgPath, err := testutil.WriteBrokerConfig(t.TempDir(), c.Broker.Options)
	if err != nil {
		t.Fatal(err)
	}
	p := testutil.Start(t, bins.Broker, []string{"-c", cfgPath}, nil)
	code, err := p.Wait(30 * time.Second)
	if err != nil || code == 0 {
		t.Fatalf("broker with a corrupt flushed record: exit code %d (%v), want a refusal:\n%s", code, err, p.LogTail(20))
	}
	if log := p.Log(); !strings.Contains(log, "corrupt record") || !strings.Contains(log, seg0) || !strings.Contains(log, "--repair-store") {
		t.Fatalf("the refusal does not name the corrupt record's file and the repair option:\n%s", p.LogTail(20))
	}
	if after := storeFiles(t, store); len(after) != len(before) {
		t.Fatalf("a refused start changed the store's files: %d before, %d after", len(before), len(after))
	} else {
		for k, v := range before {
			if after[k] != v {
				t.Fatalf("a refused start changed %s", k)
			}
		}
	}

	t.Logf("%v: start refused; repairing", time.Since(t0))
	r := testutil.Start(t, bins.Broker, []string{"-c", cfgPath, "--repair-store"}, nil)
	if code, err := r.Wait(60 * time.Second); err != nil || code != 0 {
		t.Fatalf("mqbroker --repair-store: exit %d (%v):\n%s", code, err, r.LogTail(20))
	}
	if out := r.Log(); !strings.Contains(out, "damaged:") || !strings.Contains(out, "original kept at") {
		t.Fatalf("repair output:\n%s", r.LogTail(20))
	}
	aside, _ := filepath.Glob(filepath.Join(store, "damaged", "00000000000000000000.*"))
	if len(aside) != 1 {
		t.Fatalf("set-aside segments: %v", aside)
	}

	t.Logf("%v: repaired; starting the broker", time.Since(t0))
	br := testutil.StartBroker(t, bins.Broker, c.Broker.Options)
	t.Logf("%v: broker started", time.Since(t0))
	var want []string
	damaged := sent[5]
	for _, b := range sent {
		if b != damaged {
			want = append(want, b)
		}
	}
	fresh := &rawClient{a: a, topic: topic, next: map[int32]int64{}}
	fresh.waitPulled(t, want, "every intact message after the repair")
	if got := (&rawClient{a: a, topic: topic, next: map[int32]int64{}}).pullAll(t); got[damaged] || len(got) != len(want) {
		t.Fatalf("after the repair %d distinct messages served (the damaged one: %v), want the %d intact ones", len(got), got[damaged], len(want))
	}
	br.StopOK()
	c.NameServers[0].StopOK()
}

// sendOne sends one message and returns the response code and remark.
func (rc *rawClient) sendOne(t *testing.T, body string, queueID int32) (int32, string) {
	t.Helper()
	addr, _ := rc.master(t)
	req := remoting.NewRequest(remoting.SendMessage, map[string]string{
		"producerGroup": "itest-pg", "topic": rc.topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		"queueId": strconv.Itoa(int(queueID)), "sysFlag": "0", "flag": "0",
		"bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
		"properties":    "UNIQ_KEY\x01" + message.NewUniqKey(), "reconsumeTimes": "0", "unitMode": "false", "batch": "false",
	}, []byte(body))
	resp, err := testutil.Call(addr, req, 10*time.Second)
	if err != nil {
		t.Fatalf("send %s: %v", body, err)
	}
	return resp.Code, resp.Remark
}

// TestStoreDiskFullOnRealFilesystem runs a broker whose store is a 3 MiB tmpfs (mounted by the test;
// it needs root, as CI has — elsewhere it skips, and the injected ENOSPC of
// TestCommitLogDiskFullMakesStoreNotWriteable covers the store): once the disk is full sends answer an
// error naming it, pulls serve every acknowledged message intact, and sends succeed again after
// space is freed.
func TestStoreDiskFullOnRealFilesystem(t *testing.T) {
	needProcesses(t)
	if os.Geteuid() != 0 {
		t.Skip("mounting a size-limited tmpfs needs root; the injected ENOSPC is tested in commitlog")
	}
	t.Parallel()
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
		}
	})
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins,
		Broker: testutil.BrokerOptions{RegisterNameServerPeriod: 10000, MappedFileSizeCommitLog: 64 << 10,
			StoreDir: filepath.Join(mnt, "store"),
			Extra: map[string]string{"maxMessageSize": "16384", "mappedFileSizeConsumeQueue": "20000",
				"maxIndexNum": "2000", "maxHashSlotNum": "200", "cleanResourceInterval": "3600000"}}})
	t.Cleanup(func() { c.Broker.Kill() }) // before the unmount
	a := newAdmin(t, c.NamesrvAddr)
	topic := "DiskFull"
	if err := a.CreateTopic(ctxT(t, 5*time.Second), c.Broker.Addr, admin.TopicConfig{TopicName: topic, ReadQueueNums: 2, WriteQueueNums: 2}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, func() bool {
		_, err := a.TopicRoute(ctxT(t, 3*time.Second), topic)
		return err == nil
	}, "route of "+topic)
	// Ballast leaves room for a few segments only.
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	ballast := filepath.Join(mnt, "ballast")
	if err := os.WriteFile(ballast, make([]byte, max(free-(256<<10), 0)), 0o644); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}
	rc := &rawClient{a: a, topic: topic, next: map[int32]int64{}}
	var acked []string
	body := strings.Repeat("x", 900)
	var code int32
	var remark string
	for i := 0; i < 2000; i++ {
		b := fmt.Sprintf("full-%04d-%s", i, body)
		if code, remark = rc.sendOne(t, b, int32(i%2)); code != remoting.Success {
			break
		}
		acked = append(acked, b)
	}
	if code == remoting.Success {
		t.Fatal("2000 sends of 1 KiB into a few hundred KiB of free space all succeeded")
	}
	if !strings.Contains(remark, "no space left on device") {
		t.Fatalf("send on a full disk: code %d remark %q, want a remark naming the full disk", code, remark)
	}
	t.Logf("%d sends acknowledged before the disk was full; then code %d: %s", len(acked), code, remark)
	rc.waitPulled(t, acked, "every acknowledged message while the disk is full")

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	var after string
	testutil.WaitFor(t, 20*time.Second, func() bool {
		after = fmt.Sprintf("after-%d", time.Now().UnixNano())
		code, _ := rc.sendOne(t, after, 0)
		return code == remoting.Success
	}, "sends to succeed once space is freed")
	fresh := &rawClient{a: a, topic: topic, next: map[int32]int64{}}
	fresh.waitPulled(t, append(acked, after), "every acknowledged message and the one after the disk had space again")
}
