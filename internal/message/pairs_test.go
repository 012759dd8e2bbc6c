package message

import (
	"net/netip"
	"testing"
)

func TestPropertyPairs(t *testing.T) {
	var got []string
	for k, v := range PropertyPairs("a\x011\x02\x02b\x01\x02\x01c\x02a\x012\x01x\x02d") {
		got = append(got, k+"="+v)
	}
	if want := []string{"a=1", "a=2\x01x"}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("pairs %q, want %q", got, want)
	}
	n := 0
	for range PropertyPairs("a\x011\x02b\x012\x02c\x013") {
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Fatalf("the loop ran %d times after a break at 2", n)
	}
}

func TestAppendOffsetMsgID(t *testing.T) {
	id := AppendOffsetMsgID([]byte("x"), netip.MustParseAddrPort("10.0.0.2:10911"), 0x1234ABCD)
	if want := "x0A00000200002A9F000000001234ABCD"; string(id) != want {
		t.Fatalf("AppendOffsetMsgID = %q, want %q", id, want)
	}
	if a := testing.AllocsPerRun(10, func() { _ = OffsetMsgID(netip.MustParseAddrPort("[::1]:1"), 7) }); a > 1 {
		t.Fatalf("OffsetMsgID allocates %.0f times, want 1 (the string)", a)
	}
}
