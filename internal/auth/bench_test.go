package auth

import (
	"crypto/hmac"
	"crypto/sha1"
	"testing"
)

// BenchmarkSHA1 is the throughput of crypto/sha1 and of HMAC-SHA1 (a reused state, as ACLKey
// keeps) over a signed request's size (values and a 1 KiB body, about 1.2 KB). Go uses the CPU's
// SHA instructions when it has them (sha_ni in /proc/cpuinfo); compare with them switched off:
//
//	go test -run '^$' -bench SHA1 ./internal/auth/
//	GODEBUG=cpu.sha=off go test -run '^$' -bench SHA1 ./internal/auth/
func BenchmarkSHA1(b *testing.B) {
	buf := make([]byte, 1200)
	b.Run("sha1", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			sha1.Sum(buf)
		}
	})
	b.Run("hmac-sha1", func(b *testing.B) {
		m := hmac.New(sha1.New, []byte("benchSecret"))
		var out [sha1.Size]byte
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			m.Reset()
			_, _ = m.Write(buf)
			m.Sum(out[:0])
		}
	})
}
