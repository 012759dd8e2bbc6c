package ha

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// memStore is a commit log in memory for the HA fuzzers. Like commitlog.Store, ReadCommitLog never
// crosses a segment end (seg bytes; 0: no segments).
type memStore struct {
	seg     int64
	mu      sync.Mutex
	min     int64
	data    []byte // bytes [min, min+len)
	appends int
}

func (m *memStore) MinPhyOffset() int64 { m.mu.Lock(); defer m.mu.Unlock(); return m.min }
func (m *memStore) MaxPhyOffset() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.min + int64(len(m.data))
}

func (m *memStore) ReadCommitLog(off int64, maxBytes int) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	end := m.min + int64(len(m.data))
	if off < m.min || off > end {
		return nil, errors.New("out of range")
	}
	hi := min(end, off+int64(maxBytes))
	if m.seg > 0 {
		hi = min(hi, off-off%m.seg+m.seg)
	}
	return append([]byte(nil), m.data[off-m.min:hi-m.min]...), nil
}

func (m *memStore) AppendCommitLog(off int64, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.data) == 0 && off != m.min {
		m.min = off
	}
	if off != m.min+int64(len(m.data)) {
		return errors.New("offset mismatch")
	}
	m.data = append(m.data, data...)
	m.appends++
	return nil
}

// FuzzHASlaveFrames feeds a slave arbitrary bytes as the master's header+chunk stream: the slave
// never panics, and every byte it appends came from a chunk at its own end, in order.
func FuzzHASlaveFrames(f *testing.F) {
	chunk := func(off int64, data string) []byte {
		b := make([]byte, 12, 12+len(data))
		binary.BigEndian.PutUint64(b, uint64(off))
		binary.BigEndian.PutUint32(b[8:], uint32(len(data)))
		return append(b, data...)
	}
	f.Add(append(chunk(0, "abc"), chunk(3, "defg")...), uint16(5))
	f.Add(chunk(0, ""), uint16(0))
	f.Add(append(chunk(0, "abc"), chunk(9, "x")...), uint16(13))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, uint16(3))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff}, uint16(7))
	f.Fuzz(func(t *testing.T, stream []byte, split uint16) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Skip(err)
		}
		defer ln.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			var rep [8]byte
			if _, err := io.ReadFull(c, rep[:]); err != nil {
				return
			}
			at := min(int(split), len(stream)) // two writes: the slave must reassemble frames
			_, _ = c.Write(stream[:at])
			_, _ = c.Write(stream[at:])
			_ = c.(*net.TCPConn).CloseWrite()
			_, _ = io.Copy(io.Discard, c) // until the slave drops the connection
		}()
		st := &memStore{}
		s := NewSlave(SlaveConfig{Store: st, HeartbeatInterval: time.Hour, Housekeeping: 5 * time.Second, RetryInterval: time.Hour})
		s.SetMasterAddr(ln.Addr().String())
		s.Start()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the slave did not finish with the stream")
		}
		s.Close()
		// Replay the stream: what the slave stored is the concatenation of a prefix of the
		// chunks that were at its end.
		var want []byte
		end := int64(0)
		for b := stream; len(b) >= 12; {
			off := int64(binary.BigEndian.Uint64(b))
			size := int(binary.BigEndian.Uint32(b[8:]))
			if size < 0 || size > 64<<20 || len(b) < 12+size || (off == -1 && size == 0) {
				break
			}
			if size > 0 {
				if len(want) == 0 && end == 0 {
					end = off
				}
				if off != end {
					break
				}
				want = append(want, b[12:12+size]...)
				end += int64(size)
			}
			b = b[12+size:]
		}
		st.mu.Lock()
		got := append([]byte(nil), st.data...)
		st.mu.Unlock()
		if !bytes.HasPrefix(want, got) {
			t.Fatalf("slave stored %q, not a prefix of the chunks at its end %q", got, want)
		}
	})
}

// FuzzHAMasterReports feeds a master arbitrary bytes as a slave's offset reports: the master never
// panics and every chunk it sends is the store's bytes at the offset it names.
func FuzzHAMasterReports(f *testing.F) {
	report := func(offs ...int64) []byte {
		var b []byte
		for _, o := range offs {
			b = binary.BigEndian.AppendUint64(b, uint64(o))
		}
		return b
	}
	f.Add(report(0, 10, 20))
	f.Add(report(5))
	f.Add(report(1 << 40))
	f.Add(report(-7))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, reports []byte) {
		st := &memStore{seg: 64, min: 0, data: bytes.Repeat([]byte("0123456789abcdef"), 8)}
		m := NewMaster(MasterConfig{Addr: "127.0.0.1:0", Store: st, SegmentSize: 64, BatchSize: 40,
			HeartbeatInterval: time.Hour, Housekeeping: 5 * time.Second})
		if err := m.Start(); err != nil {
			t.Skip(err)
		}
		defer m.Close()
		c, err := net.Dial("tcp", m.Addr())
		if err != nil {
			t.Skip(err)
		}
		defer c.Close()
		_, _ = c.Write(reports)
		_ = c.(*net.TCPConn).CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, _ := io.ReadAll(c)
		for len(got) >= 12 {
			off := int64(binary.BigEndian.Uint64(got))
			size := int(binary.BigEndian.Uint32(got[8:]))
			if off == -1 && size == 0 {
				got = got[12:]
				continue
			}
			if len(got) < 12+size {
				break // cut by the close
			}
			want, err := st.ReadCommitLog(off, size)
			if err != nil || !bytes.Equal(want, got[12:12+size]) {
				t.Fatalf("master sent %d bytes at %d that are not the store's (%v)", size, off, err)
			}
			if size > 40 || (size > 0 && off/64 != (off+int64(size)-1)/64) {
				t.Fatalf("chunk of %d bytes at %d exceeds the batch size or crosses a segment end", size, off)
			}
			got = got[12+size:]
		}
	})
}
