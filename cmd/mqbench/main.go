// Command mqbench measures a Skiff (or RocketMQ 4.x) cluster, like RocketMQ's benchmark scripts:
//
//	mqbench producer -n 127.0.0.1:9876 -t BenchTopic -s 1024 -w 16 [--async] [-b 1] [-d 10s | -c 100000] [--json]
//	mqbench consumer -n 127.0.0.1:9876 -t BenchTopic [-d 10s] [--from-start] [--json]
//	mqbench e2e [--bin build] [-d 10s] [--official build/officialbench] [--perf perf.data]
//
// e2e starts its own name server and broker from build/ and prints one table: SDK async publish
// (4 producers x 256 in flight), one send in flight, consume, the official Go client's async
// publish, SYNC_FLUSH async publish and a baseline server that answers every send with a fixed
// SEND_OK, each with msg/s, ack p50/p99 and the server's CPU per message (/proc/<pid>/stat).
//
// Every second it prints a line (TPS, max and average RT, failures, progress) to stderr; at the
// end a summary with throughput in msg/s and MB/s and latency percentiles, to stdout, as a table
// or as JSON.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/consumer"
	"github.com/skiffmq/skiff/client/producer"
)

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	common := []cli.Flag{
		&cli.StringFlag{Name: "namesrvAddr", Aliases: []string{"n"}, EnvVars: []string{"NAMESRV_ADDR"}, Usage: "name servers `ip:port;ip:port`", Required: true},
		&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Value: "BenchmarkTopic", Usage: "topic"},
		&cli.DurationFlag{Name: "duration", Aliases: []string{"d"}, Value: 10 * time.Second, Usage: "how long to run (when no count is given)"},
		&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON"},
	}
	app := &cli.App{
		Name: "mqbench", Usage: "benchmark producers and consumers", Writer: stdout, ErrWriter: stderr,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			{Name: "producer", Usage: "send messages as fast as possible", Flags: append(append([]cli.Flag{}, common...),
				&cli.IntFlag{Name: "size", Aliases: []string{"s"}, Value: 1024, Usage: "message body size in bytes"},
				&cli.IntFlag{Name: "threads", Aliases: []string{"w"}, Value: 16, Usage: "producer goroutines"},
				&cli.BoolFlag{Name: "async", Usage: "asynchronous sends (up to 64 in flight per goroutine)"},
				&cli.IntFlag{Name: "batch", Aliases: []string{"b"}, Value: 1, Usage: "messages per send (SEND_BATCH_MESSAGE when > 1)"},
				&cli.Int64Flag{Name: "count", Aliases: []string{"c"}, Usage: "stop after this many messages (0: run for the duration)"},
			), Action: producerRun},
			{Name: "consumer", Usage: "pull every queue of a topic and count", Flags: append(append([]cli.Flag{}, common...),
				&cli.BoolFlag{Name: "from-start", Usage: "start at each queue's min offset instead of its end"},
				&cli.Int64Flag{Name: "count", Aliases: []string{"c"}, Usage: "stop after this many messages (0: run for the duration)"},
			), Action: consumerRun},
			e2eCommand(),
			baselineCommand(),
		},
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := app.RunContext(ctx, args); err != nil {
		fmt.Fprintf(stderr, "mqbench: %v\n", err)
		return 1
	}
	return 0
}

// stats collects counts and latencies from many goroutines.
type stats struct {
	ok, failed, bytes atomic.Int64
	maxRT             atomic.Int64 // µs, this second
	sumRT, nRT        atomic.Int64 // µs, this second
	mu                sync.Mutex
	lat               []time.Duration
}

func (s *stats) record(n int, bytes int, d time.Duration) {
	s.ok.Add(int64(n))
	s.bytes.Add(int64(bytes))
	us := d.Microseconds()
	for {
		cur := s.maxRT.Load()
		if us <= cur || s.maxRT.CompareAndSwap(cur, us) {
			break
		}
	}
	s.sumRT.Add(us)
	s.nRT.Add(1)
	s.mu.Lock()
	s.lat = append(s.lat, d)
	s.mu.Unlock()
}

// Summary is what mqbench reports at the end.
type Summary struct {
	Role       string  `json:"role"`
	Messages   int64   `json:"messages"`
	Failures   int64   `json:"failures"`
	Seconds    float64 `json:"seconds"`
	MsgPerSec  float64 `json:"msgPerSec"`
	MBPerSec   float64 `json:"mbPerSec"`
	P50ms      float64 `json:"p50Ms"`
	P90ms      float64 `json:"p90Ms"`
	P99ms      float64 `json:"p99Ms"`
	P999ms     float64 `json:"p999Ms"`
	MessageLen int     `json:"messageSize,omitempty"`
}

func (s *stats) summary(role string, elapsed time.Duration) Summary {
	s.mu.Lock()
	lat := append([]time.Duration(nil), s.lat...)
	s.mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000
	}
	secs := elapsed.Seconds()
	return Summary{Role: role, Messages: s.ok.Load(), Failures: s.failed.Load(), Seconds: secs,
		MsgPerSec: float64(s.ok.Load()) / secs, MBPerSec: float64(s.bytes.Load()) / secs / (1 << 20),
		P50ms: pct(0.5), P90ms: pct(0.9), P99ms: pct(0.99), P999ms: pct(0.999)}
}

// report prints a line per second until done is closed.
func report(w io.Writer, s *stats, start time.Time, d time.Duration, count int64, done <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := int64(0)
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			cur := s.ok.Load()
			n, sum := s.nRT.Swap(0), s.sumRT.Swap(0)
			avg := 0.0
			if n > 0 {
				avg = float64(sum) / float64(n) / 1000
			}
			progress := float64(now.Sub(start)) / float64(d) * 100
			if count > 0 {
				progress = float64(cur) / float64(count) * 100
			}
			fmt.Fprintf(w, "TPS: %d  MaxRT(ms): %.2f  AvgRT(ms): %.3f  Failed: %d  Total: %d  Progress: %.0f%%\n",
				cur-last, float64(s.maxRT.Swap(0))/1000, avg, s.failed.Load(), cur, min(progress, 100))
			last = cur
		}
	}
}

func printSummary(c *cli.Context, sum Summary) error {
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	fmt.Fprintf(c.App.Writer, "%s: %d messages in %.1f s, %d failures\nthroughput: %.0f msg/s, %.2f MB/s\nlatency ms: p50 %.3f  p90 %.3f  p99 %.3f  p999 %.3f\n",
		sum.Role, sum.Messages, sum.Seconds, sum.Failures, sum.MsgPerSec, sum.MBPerSec, sum.P50ms, sum.P90ms, sum.P99ms, sum.P999ms)
	return nil
}

func producerRun(c *cli.Context) error {
	size, threads, batch, count := c.Int("size"), c.Int("threads"), c.Int("batch"), c.Int64("count")
	if size <= 0 || threads <= 0 || batch <= 0 || count < 0 || c.Duration("duration") <= 0 {
		return fmt.Errorf("-s, -w, -b and -d must be positive, -c not negative")
	}
	topic := c.String("topic")
	body := make([]byte, size)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	// One SDK producer per goroutine: each has its own connections, as separate clients would.
	// Compression is off so that MB/s measures the broker, not zlib on a repetitive body.
	producers := make([]*producer.Producer, threads)
	for w := range producers {
		p, err := producer.New(producer.WithNameServers(c.String("namesrvAddr")), producer.WithGroup("MQBENCH"),
			producer.WithCompression(0, 5), producer.WithSendTimeout(5*time.Second))
		if err != nil {
			return err
		}
		if err := p.Start(); err != nil {
			return err
		}
		defer p.Shutdown(context.Background())
		producers[w] = p
	}
	// Warm up: the first send resolves the route (and auto-creates the topic when needed).
	ctx, cancel := context.WithTimeout(c.Context, 10*time.Second)
	_, err := producers[0].Send(ctx, client.NewMessage(topic, []byte("mqbench warm-up")))
	cancel()
	if err != nil {
		return err
	}
	var s stats
	var sent atomic.Int64
	start := time.Now()
	deadline := start.Add(c.Duration("duration"))
	done := make(chan struct{})
	go report(c.App.ErrWriter, &s, start, c.Duration("duration"), count, done)
	more := func() bool {
		if count > 0 {
			return sent.Add(int64(batch)) <= count
		}
		return time.Now().Before(deadline)
	}
	msgs := make([]*client.Message, batch)
	for i := range msgs {
		msgs[i] = client.NewMessage(topic, body)
	}
	bytes := size * batch
	var wg sync.WaitGroup
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func(p *producer.Producer) {
			defer wg.Done()
			inflight := make(chan struct{}, 64)
			var pending sync.WaitGroup
			for more() {
				t0 := time.Now()
				if !c.Bool("async") {
					var err error
					if batch > 1 {
						_, err = p.SendBatch(context.Background(), msgs...)
					} else {
						_, err = p.Send(context.Background(), client.NewMessage(topic, body))
					}
					settle(&s, err, batch, bytes, time.Since(t0))
					continue
				}
				inflight <- struct{}{}
				pending.Add(1)
				cb := func(_ *client.SendResult, err error) {
					settle(&s, err, batch, bytes, time.Since(t0))
					<-inflight
					pending.Done()
				}
				var err error
				if batch > 1 {
					err = p.SendBatchAsync(context.Background(), cb, msgs...)
				} else {
					err = p.SendAsync(context.Background(), client.NewMessage(topic, body), cb)
				}
				if err != nil {
					settle(&s, err, batch, 0, 0)
					<-inflight
					pending.Done()
				}
			}
			pending.Wait()
		}(producers[w])
	}
	wg.Wait()
	close(done)
	sum := s.summary("producer", time.Since(start))
	sum.MessageLen = size
	return printSummary(c, sum)
}

func settle(s *stats, err error, n, bytes int, d time.Duration) {
	if err != nil {
		s.failed.Add(int64(n))
		return
	}
	s.record(n, bytes, d)
}

func consumerRun(c *cli.Context) error {
	group := "MQBENCH_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	pc, err := consumer.NewPullConsumer(group, consumer.WithNameServers(c.String("namesrvAddr")))
	if err != nil {
		return err
	}
	if err := pc.Start(); err != nil {
		return err
	}
	defer pc.Shutdown(context.Background())
	topic := c.String("topic")
	ctx, cancel := context.WithTimeout(c.Context, 10*time.Second)
	qs, err := pc.Queues(ctx, topic)
	cancel()
	if err != nil {
		return err
	}
	if len(qs) == 0 {
		return fmt.Errorf("topic %s has no readable queue", topic)
	}
	count := c.Int64("count")
	var s stats
	start := time.Now()
	deadline := start.Add(c.Duration("duration"))
	done := make(chan struct{})
	go report(c.App.ErrWriter, &s, start, c.Duration("duration"), count, done)
	var wg sync.WaitGroup
	for _, q := range qs {
		wg.Add(1)
		go func(q client.MessageQueue) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			var off int64
			var err error
			if c.Bool("from-start") {
				off, err = pc.MinOffset(ctx, q)
			} else {
				off, err = pc.MaxOffset(ctx, q)
			}
			cancel()
			if err != nil {
				s.failed.Add(1)
				return
			}
			for time.Now().Before(deadline) && (count == 0 || s.ok.Load() < count) {
				wait := min(time.Second, time.Until(deadline))
				res, err := pc.PullWait(context.Background(), q, "*", off, 32, max(wait, time.Millisecond))
				if err != nil {
					s.failed.Add(1)
					time.Sleep(100 * time.Millisecond)
					continue
				}
				if res.NextBeginOffset >= off {
					off = res.NextBeginOffset
				}
				now := time.Now()
				for _, m := range res.Messages {
					s.record(1, len(m.Body), max(now.Sub(m.StoreTimestamp), 0))
				}
			}
		}(q)
	}
	wg.Wait()
	close(done)
	return printSummary(c, s.summary("consumer (latency = receive time - store time)", time.Since(start)))
}
