package commitlog

import (
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/message"
)

// BenchmarkCommitLogOpen reports how long Open takes on a store of 100 MiB and of 4 GiB (default
// 1 GiB segments, 1 KiB messages over 16 queues, each indexed by UNIQ_KEY), after a clean stop and
// after a simulated crash (the process dies without Close: the checkpoint lags the log by the
// messages appended since the last consume-queue flush, 4 MiB here, as after a kill -9). The
// 100 MiB case is the baseline of the same run; restart time should not grow with the log.
//
//	flock /work/locks/heavy.lock go test -run '^$' -bench BenchmarkCommitLogOpen -benchtime 5x ./commitlog/
//
// SKIFF_BENCH_OPEN_SIZES=100MiB limits the sizes (comma-separated: 100MiB, 4GiB).
func BenchmarkCommitLogOpen(b *testing.B) {
	sizes := []struct {
		name  string
		bytes int64
	}{{"100MiB", 100 << 20}, {"4GiB", 4 << 30}}
	only := os.Getenv("SKIFF_BENCH_OPEN_SIZES")
	for _, sz := range sizes {
		if only != "" && !containsField(only, sz.name) {
			continue
		}
		dir := b.TempDir()
		c := DefaultConfig(dir)
		c.FlushIntervalConsumeQueue = time.Hour // checkpoints only where the benchmark says
		fillStore(b, c, sz.bytes)
		for _, stop := range []string{"clean", "crash"} {
			b.Run(fmt.Sprintf("size=%s/stop=%s", sz.name, stop), func(b *testing.B) {
				var verified, redispatched int64
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					s, err := Open(c)
					if err != nil {
						b.Fatal(err)
					}
					if stop == "crash" {
						if err := s.flush(); err != nil {
							b.Fatal(err)
						}
						if err := s.flushQueues(); err != nil { // the last periodic checkpoint
							b.Fatal(err)
						}
						appendBytes(b, s, 4<<20)
						kill(s)
					} else if err := s.Close(); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					t0 := time.Now()
					s, err = Open(c)
					if err != nil {
						b.Fatal(err)
					}
					d := time.Since(t0)
					b.StopTimer()
					st := s.Stats().Recovery
					verified += st.VerifiedBytes
					redispatched += st.RedispatchedBytes
					_ = d
					if err := s.Close(); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				b.ReportMetric(float64(verified)/float64(b.N)/(1<<20), "verified-MiB/op")
				b.ReportMetric(float64(redispatched)/float64(b.N)/(1<<20), "redispatched-MiB/op")
			})
		}
	}
}

func containsField(list, name string) bool {
	for _, f := range splitComma(list) {
		if f == name {
			return true
		}
	}
	return false
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// kill stops a store the way kill -9 does: the goroutines stop, the files are unmapped (the page
// cache keeps what was written), nothing is flushed, no checkpoint, the abort marker stays.
func kill(s *Store) {
	s.closed.Store(true)
	close(s.done)
	s.wg.Wait()
	s.closeFiles()
}

// fillStore appends 1 KiB messages until the log holds n bytes, then stops cleanly.
func fillStore(b *testing.B, c Config, n int64) {
	b.Helper()
	s, err := Open(c)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	appendBytes(b, s, n)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled %d MiB in %v", n>>20, time.Since(t0).Round(time.Millisecond))
}

func appendBytes(b *testing.B, s *Store, n int64) {
	b.Helper()
	body := make([]byte, 1024)
	start := s.MaxPhyOffset()
	for i := 0; s.MaxPhyOffset()-start < n; i++ {
		batch := make([]*message.Message, 64)
		for j := range batch {
			m := newMsg("OpenBench", int32(i%16), "", map[string]string{message.PropertyUniqKey: message.NewUniqKey()})
			m.Body = body
			batch[j] = m
		}
		for _, m := range batch { // one queue per put: consecutive records of 16 queues
			if r := s.PutMessage(m); r.Status != PutOK {
				b.Fatalf("put: %+v", r)
			}
		}
	}
	if !s.WaitDispatched(s.MaxPhyOffset(), 10*time.Minute) {
		b.Fatal("dispatch did not catch up")
	}
}

// TestCommitLogFillStoreForMeasurement fills the store at $SKIFF_FILL_STORE with $SKIFF_FILL_MIB
// MiB of 1 KiB messages (topic RestartBench, 4 queues, UNIQ_KEY indexed, default 1 GiB segments)
// and stops it cleanly; scripts/measure-restart.sh uses it to prepare a large log faster than a
// producer can over the network. It is skipped unless the variables are set.
func TestCommitLogFillStoreForMeasurement(t *testing.T) {
	dir, mib := os.Getenv("SKIFF_FILL_STORE"), os.Getenv("SKIFF_FILL_MIB")
	if dir == "" || mib == "" {
		t.Skip("a measurement helper: set SKIFF_FILL_STORE and SKIFF_FILL_MIB")
	}
	var n int64
	if _, err := fmt.Sscan(mib, &n); err != nil || n <= 0 {
		t.Fatalf("SKIFF_FILL_MIB=%q", mib)
	}
	s, err := Open(DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 1024)
	t0 := time.Now()
	for i := 0; s.MaxPhyOffset() < n<<20; i++ {
		m := newMsg("RestartBench", int32(i%4), "", map[string]string{message.PropertyUniqKey: message.NewUniqKey()})
		m.Body = body
		if r := s.PutMessage(m); r.Status != PutOK {
			t.Fatalf("put: %+v", r)
		}
	}
	if !s.WaitDispatched(s.MaxPhyOffset(), 30*time.Minute) {
		t.Fatal("dispatch did not catch up")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("filled %d MiB in %v", n, time.Since(t0).Round(time.Second))
}

// TestCommitLogOpenStoreForMeasurement opens the store at $SKIFF_OPEN_STORE once, with phase
// timings logged at Debug level to stderr, and closes it (after a drop of the page cache, this
// is the cold-open profile). It is skipped unless the variable is set.
func TestCommitLogOpenStoreForMeasurement(t *testing.T) {
	dir := os.Getenv("SKIFF_OPEN_STORE")
	if dir == "" {
		t.Skip("a measurement helper: set SKIFF_OPEN_STORE")
	}
	c := DefaultConfig(dir)
	c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t0 := time.Now()
	s, err := Open(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("open took %v", time.Since(t0))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
