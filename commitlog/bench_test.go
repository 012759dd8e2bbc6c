package commitlog

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/message"
)

// Benchmarks for 1 KiB messages. Run them together so the ratios are read from one run:
//
//	go test -run '^$' -bench . -benchtime 2s ./commitlog/
//
// BenchmarkCommitLogBaselineWrite writes the same number of bytes with plain sequential write
// calls to a file in the same directory: ASYNC_FLUSH append bandwidth is compared with it.

const benchBody = 1024

func benchConfig(b *testing.B, flush string) Config {
	c := DefaultConfig(b.TempDir())
	c.MappedFileSizeCommitLog = 256 << 20
	c.FlushDiskType = flush
	return c
}

func benchMessage() *message.Message {
	m := newMsg("Bench", 0, "", map[string]string{"TAGS": "TagA", "KEYS": "k"})
	m.Body = make([]byte, benchBody)
	return m
}

func recordSize(b *testing.B) int {
	n, err := benchMessage().EncodedSize()
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func BenchmarkCommitLogBaselineWrite(b *testing.B) {
	size := recordSize(b)
	f, err := os.Create(filepath.Join(b.TempDir(), "baseline"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, size)
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

func BenchmarkCommitLogAppendAsync(b *testing.B) {
	s, err := Open(benchConfig(b, AsyncFlush))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetBytes(int64(recordSize(b)))
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		m := benchMessage()
		m.QueueID = int32(i % 8)
		if r := s.PutMessage(m); r.Status != PutOK {
			b.Fatalf("put: %+v", r)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

func BenchmarkCommitLogAppendSync(b *testing.B) {
	for _, writers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, err := Open(benchConfig(b, SyncFlush))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(int64(recordSize(b)))
			var next atomic.Int64
			lat := make([][]time.Duration, writers)
			f0, _ := s.FlushStats()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						m := benchMessage()
						m.QueueID = int32(w % 8)
						t0 := time.Now()
						if r := s.PutMessage(m); r.Status != PutOK {
							b.Errorf("put: %+v", r)
							return
						}
						lat[w] = append(lat[w], time.Since(t0))
					}
				}(w)
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			f1, _ := s.FlushStats()
			var all []time.Duration
			for _, l := range lat {
				all = append(all, l...)
			}
			sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			if f := f1 - f0; f > 0 {
				b.ReportMetric(float64(b.N)/float64(f), "msgs/flush")
			}
			if len(all) > 0 {
				b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}

// BenchmarkCommitLogAppendSyncDeferred is SYNC_FLUSH with PutMessagesThen: 4 writers keep up to
// 256 writes each in flight (the e2e SYNC_FLUSH row's load) and no goroutine waits per write.
func BenchmarkCommitLogAppendSyncDeferred(b *testing.B) {
	const writers, inflight = 4, 256
	s, err := Open(benchConfig(b, SyncFlush))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetBytes(int64(recordSize(b)))
	var next atomic.Int64
	var answered sync.WaitGroup
	var latMu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	f0, m0 := s.FlushStats()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			slots := make(chan struct{}, inflight)
			for next.Add(1) <= int64(b.N) {
				slots <- struct{}{}
				m := benchMessage()
				m.QueueID = int32(w % 8)
				answered.Add(1)
				t0 := time.Now()
				done := func(r PutResult) {
					if r.Status != PutOK {
						b.Errorf("put: %+v", r)
					}
					latMu.Lock()
					lat = append(lat, time.Since(t0))
					latMu.Unlock()
					<-slots
					answered.Done()
				}
				if r, later := s.PutMessagesThen([]*message.Message{m}, done); !later {
					done(r)
				}
			}
		}(w)
	}
	wg.Wait()
	answered.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	f1, m1 := s.FlushStats()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	if f := f1 - f0; f > 0 {
		b.ReportMetric(float64(m1-m0)/float64(f), "msgs/flush")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
	}
}

// BenchmarkCommitLogDispatch measures the dispatcher alone (consume-queue entry and key-index
// entries per record): b.N records with TAGS, KEYS and UNIQ_KEY are appended while the dispatcher
// is held off, then dispatched in one timed pass. allocs/op counts every goroutine's allocations.
func BenchmarkCommitLogDispatch(b *testing.B) {
	s, err := Open(benchConfig(b, AsyncFlush))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.dispatchMu.Lock()
	for i := 0; i < b.N; i++ {
		m := benchMessage()
		m.QueueID = int32(i % 8)
		m.Properties[message.PropertyUniqKey] = fmt.Sprintf("7F00000100002A9F0000000000%06d", i)
		if r := s.PutMessage(m); r.Status != PutOK {
			s.dispatchMu.Unlock()
			b.Fatalf("put: %+v", r)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	err = s.dispatchUpTo(s.wrote.Load())
	b.StopTimer()
	s.dispatchMu.Unlock()
	if err != nil {
		b.Fatal(err)
	}
}
