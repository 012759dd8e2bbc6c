package rpc

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"maps"
	"testing"

	"github.com/skiffmq/skiff/internal/remoting"
)

// FuzzReadCommandRaw feeds arbitrary bytes to the client's frame reader (through a 16-byte
// buffer, so that frames larger than the buffer take the direct-read path, and through the
// 64 KiB one the reader uses) and checks it against remoting.ReadCommand: the same frames
// accepted and refused, the same command decoded, and the reader left at the same place for
// the next frame.
func FuzzReadCommandRaw(f *testing.F) {
	ok := remoting.NewRequest(remoting.PullMessage, map[string]string{"topic": "T", "queueId": "3"}, []byte("body"))
	for _, st := range []byte{remoting.SerializeJSON, remoting.SerializeRocketMQ} {
		ok.SerializeType = st
		fr, err := ok.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(fr)
		f.Add(append(fr, fr...))
		f.Add(fr[:len(fr)-1])
	}
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(binary.BigEndian.AppendUint32(nil, 40))
	const maxFrame = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, size := range []int{16, 64 << 10} {
			want := bytes.NewReader(data)
			got := bufio.NewReaderSize(bytes.NewReader(data), size)
			for range 3 { // up to three frames in a row
				wc, werr := remoting.ReadCommand(want, maxFrame)
				gc, gerr := readCommandRaw(got, maxFrame)
				if (werr == nil) != (gerr == nil) {
					t.Fatalf("buffer %d: ReadCommand error %v, readCommandRaw error %v", size, werr, gerr)
				}
				if werr != nil {
					if werr.Error() != gerr.Error() {
						t.Fatalf("buffer %d: ReadCommand error %q, readCommandRaw error %q", size, werr, gerr)
					}
					break
				}
				gc.MaterializeExt()
				if wc.Code != gc.Code || wc.Opaque != gc.Opaque || wc.Flag != gc.Flag || wc.Remark != gc.Remark ||
					wc.Language != gc.Language || wc.Version != gc.Version || wc.SerializeType != gc.SerializeType ||
					!bytes.Equal(wc.Body, gc.Body) || !maps.Equal(wc.ExtFields, gc.ExtFields) {
					t.Fatalf("buffer %d: ReadCommand %+v, readCommandRaw %+v", size, wc, gc)
				}
			}
		}
	})
}
