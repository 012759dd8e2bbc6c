package server

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
)

// BenchmarkServerRequest: one connection keeps 256 requests with 1 KiB bodies in flight against a
// handler that answers at once, run on the send pool or inline on the event loop (SetInline).
// The time per op is the whole round trip in one process (client included), so the difference
// between the two is the hand-off to a worker and the wake of the loop for the answer.
//
//	go test -run '^$' -bench ServerRequest -benchtime 200000x ./internal/remoting/server/
func BenchmarkServerRequest(b *testing.B) {
	for _, mode := range []string{"pool", "inline"} {
		b.Run(mode, func(b *testing.B) {
			s := New(Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
			s.HandleRaw(codeInline, PoolSend, func(_ context.Context, _ *Conn, req *remoting.Command) *remoting.Command {
				return remoting.NewResponse(req, remoting.Success, "")
			})
			if mode == "inline" {
				s.SetInline(codeInline, always)
			}
			if err := s.Start(); err != nil {
				b.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = s.Shutdown(ctx)
			}()
			nc, err := net.Dial("tcp", s.Addr())
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			frame, err := remoting.NewRequest(codeInline, map[string]string{"topic": "T", "queueId": "1"}, make([]byte, 1024)).Encode()
			if err != nil {
				b.Fatal(err)
			}
			const window = 256
			slots := make(chan struct{}, window)
			read := make(chan error, 1)
			b.SetBytes(int64(len(frame)))
			b.ResetTimer()
			go func() {
				br := bufio.NewReaderSize(nc, 64<<10)
				for range b.N {
					if _, err := remoting.ReadCommand(br, 0); err != nil {
						read <- err
						return
					}
					<-slots
				}
				read <- nil
			}()
			bw := bufio.NewWriterSize(nc, 64<<10)
			for range b.N {
				select {
				case slots <- struct{}{}:
				default: // the window is full: send what is buffered, then wait for an answer
					if err := bw.Flush(); err != nil {
						b.Fatal(err)
					}
					slots <- struct{}{}
				}
				if _, err := bw.Write(frame); err != nil {
					b.Fatal(err)
				}
			}
			if err := bw.Flush(); err != nil {
				b.Fatal(err)
			}
			if err := <-read; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if mode == "inline" && s.Inline() < int64(b.N) {
				b.Fatalf("%d of %d requests ran inline", s.Inline(), b.N)
			}
		})
	}
}
