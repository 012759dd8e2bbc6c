package commitlog

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/message"
)

const crashChildEnv = "SKIFF_COMMITLOG_CRASH_CHILD"

// crashBody derives a message body from its id, so the verifier knows every byte to expect.
func crashBody(id string) []byte {
	sum := sha256.Sum256([]byte(id))
	n := 200 + int(sum[0])*8 // 200..2240 bytes: records of different sizes cross segment ends
	body := make([]byte, 0, n)
	body = append(body, id...)
	body = append(body, ':')
	for len(body) < n {
		body = append(body, hex.EncodeToString(sum[:])...)
	}
	return body[:n]
}

func crashConfig(dir string) Config {
	c := DefaultConfig(dir)
	c.MappedFileSizeCommitLog = 256 << 10
	c.MappedFileSizeConsumeQueue = 20 * 500
	c.FlushDiskType = SyncFlush
	c.MaxMessageSize = 64 << 10
	return c
}

// TestCommitLogCrashChild is the child of TestCommitLogCrashUnderSyncFlush: it appends with
// SYNC_FLUSH from many goroutines and prints "ACK <id>" only after PutMessage returned PutOK.
func TestCommitLogCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("run by TestCommitLogCrashUnderSyncFlush")
	}
	round := os.Getenv("SKIFF_CRASH_ROUND")
	s, err := Open(crashConfig(dir))
	if err != nil {
		fmt.Println("OPEN-FAILED", err)
		os.Exit(3)
	}
	var out sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(w, "READY")
	w.Flush()
	var seq atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for {
				id := fmt.Sprintf("r%s-g%d-%d", round, g, seq.Add(1))
				m := newMsg("Crash", int32(g%4), "", map[string]string{"KEYS": id})
				m.Body = crashBody(id)
				if r := s.PutMessage(m); r.Status == PutOK {
					out.Lock()
					fmt.Fprintf(w, "ACK %s %d\n", id, m.QueueID)
					w.Flush()
					out.Unlock()
				}
			}
		}(g)
	}
	wg.Wait()
}

// TestCommitLogCrashUnderSyncFlush kills a child process appending with SYNC_FLUSH several times
// with SIGKILL, then checks that every acknowledged message is present and byte-identical, that
// nothing unverifiable is served, and that appends continue after the last valid record.
func TestCommitLogCrashUnderSyncFlush(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("SKIFF_TEST_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	defer func() {
		if t.Failed() {
			t.Logf("seed %d (set SKIFF_TEST_SEED to repeat)", seed)
		}
	}()
	dir := t.TempDir()
	acked := map[string]int32{}
	rounds := 4
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCommitLogCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, fmt.Sprintf("SKIFF_CRASH_ROUND=%d", round))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Wait until the child opened the store, let it append for a random while, kill it.
		ready := false
		for !ready {
			l, ok := <-lines
			if !ok {
				t.Fatalf("round %d: child exited before READY", round)
			}
			ready = l == "READY"
			if strings.HasPrefix(l, "OPEN-FAILED") {
				t.Fatalf("round %d: %s", round, l)
			}
		}
		time.Sleep(time.Duration(150+rng.IntN(350)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		n := 0
		for l := range lines {
			if f := strings.Fields(l); len(f) == 3 && f[0] == "ACK" {
				q, _ := strconv.Atoi(f[2])
				acked[f[1]] = int32(q)
				n++
			}
		}
		_ = cmd.Wait()
		t.Logf("round %d: %d acknowledged appends before SIGKILL", round, n)
	}
	if len(acked) == 0 {
		t.Fatal("the child acknowledged nothing")
	}

	s, err := Open(crashConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seen := map[string]bool{}
	for q := int32(0); q < 4; q++ {
		msgs := pullAll(t, s, "Crash", q) // decodes with the CRC check
		for i, m := range msgs {
			if m.QueueOffset != int64(i) {
				t.Fatalf("queue %d entry %d has queue offset %d", q, i, m.QueueOffset)
			}
			id := m.Properties["KEYS"]
			if string(m.Body) != string(crashBody(id)) {
				t.Fatalf("message %s in queue %d is not byte-identical to what was written", id, q)
			}
			if seen[id] {
				t.Fatalf("message %s stored twice", id)
			}
			seen[id] = true
		}
	}
	for id, q := range acked {
		if !seen[id] {
			t.Fatalf("acknowledged message %s (queue %d) was lost", id, q)
		}
	}
	t.Logf("%d acknowledged, %d stored (the rest were written but not yet acknowledged at the kill)", len(acked), len(seen))
	end := s.MaxPhyOffset()
	m := newMsg("Crash", 0, "", nil)
	m.Body = []byte("after the crashes")
	r := s.PutMessage(m)
	segSize := crashConfig(dir).MappedFileSizeCommitLog
	if r.Status != PutOK || (m.CommitLogOffset != end && m.CommitLogOffset != end-end%segSize+segSize) {
		t.Fatalf("append after recovery: %+v at %d, recovered end %d", r, m.CommitLogOffset, end)
	}
	s.WaitDispatched(s.MaxPhyOffset(), 5*time.Second)
	raw, err := s.LookupMessage(m.CommitLogOffset)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := message.Decode(raw, true); err != nil || string(got.Body) != "after the crashes" {
		t.Fatalf("appended record reads back as %v %v", got, err)
	}
}
