package message

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// OffsetMsgID is the offset message id of a record: upper-case hex of the store host address,
// its port (int) and the commit-log offset (long): 32 characters for IPv4, 56 for IPv6 (§3.4).
func OffsetMsgID(storeHost netip.AddrPort, commitLogOffset int64) string {
	var b [56]byte
	return string(AppendOffsetMsgID(b[:0], storeHost, commitLogOffset))
}

// AppendOffsetMsgID appends OffsetMsgID(storeHost, commitLogOffset) to dst (no allocation when
// dst has room for 56 more bytes).
func AppendOffsetMsgID(dst []byte, storeHost netip.AddrPort, commitLogOffset int64) []byte {
	var b [28]byte
	a := storeHost.Addr().Unmap()
	n := 0
	if a.Is6() {
		s := a.As16()
		n = copy(b[:], s[:])
	} else {
		var s [4]byte
		if a.IsValid() {
			s = a.As4()
		}
		n = copy(b[:], s[:])
	}
	binary.BigEndian.PutUint32(b[n:], uint32(storeHost.Port()))
	binary.BigEndian.PutUint64(b[n+4:], uint64(commitLogOffset))
	const upperHex = "0123456789ABCDEF"
	for _, c := range b[:n+12] {
		dst = append(dst, upperHex[c>>4], upperHex[c&0xF])
	}
	return dst
}

// ParseOffsetMsgID decodes an offset message id into the store host and commit-log offset.
func ParseOffsetMsgID(id string) (netip.AddrPort, int64, error) {
	if len(id) != 32 && len(id) != 56 {
		return netip.AddrPort{}, 0, fmt.Errorf("%w: %q has %d characters, want 32 or 56", ErrBadMsgID, id, len(id))
	}
	b, err := hex.DecodeString(id)
	if err != nil {
		return netip.AddrPort{}, 0, fmt.Errorf("%w: %q: %v", ErrBadMsgID, id, err)
	}
	var addr netip.Addr
	n := 4
	if len(b) == 28 {
		var a [16]byte
		copy(a[:], b[:16])
		addr, n = netip.AddrFrom16(a), 16
	} else {
		var a [4]byte
		copy(a[:], b[:4])
		addr = netip.AddrFrom4(a)
	}
	port := binary.BigEndian.Uint32(b[n:])
	if port > 65535 {
		return netip.AddrPort{}, 0, fmt.Errorf("%w: %q has port %d", ErrBadMsgID, id, port)
	}
	off := int64(binary.BigEndian.Uint64(b[n+4:]))
	return netip.AddrPortFrom(addr, uint16(port)), off, nil
}

var (
	uniqPrefix  string
	uniqCounter atomic.Uint32
)

func init() {
	var r [4]byte
	_, _ = rand.Read(r[:])
	var p [10]byte
	copy(p[:4], r[:]) // a random "address": ids stay unique without looking up interfaces
	binary.BigEndian.PutUint16(p[4:], uint16(os.Getpid()))
	_, _ = rand.Read(p[6:])
	uniqPrefix = strings.ToUpper(hex.EncodeToString(p[:]))
}

// NewUniqKey returns a client-generated unique key (32 hex characters): a per-process prefix,
// milliseconds and a counter. Treat it as opaque.
func NewUniqKey() string {
	var b [UniqKeyLength]byte
	return string(AppendUniqKey(b[:0]))
}

// UniqKeyLength is the length of a key from NewUniqKey.
const UniqKeyLength = 32

// AppendUniqKey appends a new unique key (as NewUniqKey returns) to dst.
func AppendUniqKey(dst []byte) []byte {
	var b [6]byte
	binary.BigEndian.PutUint32(b[:], uint32(time.Now().UnixMilli()))
	binary.BigEndian.PutUint16(b[4:], uint16(uniqCounter.Add(1)))
	const upperHex = "0123456789ABCDEF"
	dst = append(dst, uniqPrefix...)
	for _, c := range b {
		dst = append(dst, upperHex[c>>4], upperHex[c&0xF])
	}
	return dst
}

// TagsCode is the consume-queue tag hash: Java's String.hashCode over UTF-16 code units,
// sign-extended to 64 bits; 0 for no tag (§3.7).
func TagsCode(tags string) int64 { return int64(HashString(0, tags)) }
