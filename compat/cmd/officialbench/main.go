// Command officialbench is the official Go client's (rocketmq-client-go v2.1.2) async publish,
// measured the way `mqbench e2e` measures Skiff's SDK: p producers (one client instance and one
// connection each), i sends in flight per producer, 1 KiB bodies by default. `mqbench e2e` runs
// it against its own broker and reads the broker's CPU while it runs.
//
//	officialbench -n 127.0.0.1:9876 -t BenchOfficial [-s 1024] [-p 4] [-i 256] [-d 10s] [-w 2s]
//
// It prints two JSON lines on stdout: {"phase":"measuring"} when the warm-up is over, then the
// summary {"messages","failures","msgPerSec","p50Us","p99Us"}.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

func main() {
	ns := flag.String("n", "127.0.0.1:9876", "name server address")
	topic := flag.String("t", "BenchOfficial", "topic")
	size := flag.Int("s", 1024, "body size in bytes")
	np := flag.Int("p", 4, "producers")
	inflight := flag.Int("i", 256, "async sends in flight per producer")
	dur := flag.Duration("d", 10*time.Second, "measured duration")
	warm := flag.Duration("w", 2*time.Second, "warm-up duration")
	flag.Parse()
	rlog.SetLogLevel("error")
	if err := run(*ns, *topic, *size, *np, *inflight, *dur, *warm); err != nil {
		fmt.Fprintln(os.Stderr, "officialbench:", err)
		os.Exit(1)
	}
}

func run(ns, topic string, size, np, inflight int, dur, warm time.Duration) error {
	body := make([]byte, size)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	ps := make([]rocketmq.Producer, np)
	for i := range ps {
		p, err := rocketmq.NewProducer(producer.WithNameServer([]string{ns}), producer.WithGroupName("OFFICIALBENCH"),
			producer.WithInstanceName(fmt.Sprintf("officialbench-%d", i)), producer.WithRetry(2),
			producer.WithSendMsgTimeout(10*time.Second))
		if err != nil {
			return err
		}
		if err := p.Start(); err != nil {
			return err
		}
		defer func() { _ = p.Shutdown() }()
		ps[i] = p
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range ps {
		for {
			_, err := p.SendSync(context.Background(), primitive.NewMessage(topic, body))
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("warm-up send: %w", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	type result struct {
		ok, failed int64
		lat        []time.Duration
	}
	runFor := func(d time.Duration) result {
		var ok, failed atomic.Int64
		var mu sync.Mutex
		var lat []time.Duration
		stopAt := time.Now().Add(d)
		var wg sync.WaitGroup
		for _, p := range ps {
			wg.Add(1)
			go func(p rocketmq.Producer) {
				defer wg.Done()
				sem := make(chan struct{}, inflight)
				var pending sync.WaitGroup
				for time.Now().Before(stopAt) {
					sem <- struct{}{}
					pending.Add(1)
					t0 := time.Now()
					err := p.SendAsync(context.Background(), func(_ context.Context, _ *primitive.SendResult, err error) {
						if err != nil {
							failed.Add(1)
						} else {
							ok.Add(1)
							d := time.Since(t0)
							mu.Lock()
							lat = append(lat, d)
							mu.Unlock()
						}
						<-sem
						pending.Done()
					}, primitive.NewMessage(topic, body))
					if err != nil {
						failed.Add(1)
						<-sem
						pending.Done()
					}
				}
				pending.Wait()
			}(p)
		}
		wg.Wait()
		return result{ok.Load(), failed.Load(), lat}
	}
	runFor(warm)
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(map[string]string{"phase": "measuring"}); err != nil {
		return err
	}
	t0 := time.Now()
	r := runFor(dur)
	elapsed := time.Since(t0)
	sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
	pct := func(p float64) float64 {
		if len(r.lat) == 0 {
			return 0
		}
		return float64(r.lat[int(float64(len(r.lat)-1)*p)].Nanoseconds()) / 1000
	}
	return enc.Encode(map[string]any{"messages": r.ok, "failures": r.failed, "msgPerSec": float64(r.ok) / elapsed.Seconds(),
		"p50Us": pct(0.5), "p99Us": pct(0.99)})
}
