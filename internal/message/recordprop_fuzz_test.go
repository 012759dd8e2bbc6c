package message

import (
	"net/netip"
	"testing"
)

// FuzzMessageRecordProperty holds RecordProperty to Decode: for any bytes Decode accepts as one
// record, RecordProperty finds the same value of every property Decode found (and no panic).
func FuzzMessageRecordProperty(f *testing.F) {
	m := &Message{Topic: "T", Body: []byte("b"), Properties: map[string]string{"TAGS": "a", "KEYS": "k1 k2"},
		BornHost: netip.MustParseAddrPort("127.0.0.1:1"), StoreHost: netip.MustParseAddrPort("[::1]:2")}
	b, _ := Encode(nil, m)
	f.Add(b, "TAGS")
	f.Add(b[:len(b)-3], "KEYS")
	f.Fuzz(func(t *testing.T, b []byte, key string) {
		v, ok := RecordProperty(b, key)
		d, err := Decode(b, false)
		if err != nil || int(d.StoreSize) != len(b) {
			return
		}
		want, wantOK := d.Properties[key]
		if ok != wantOK || v != want {
			t.Fatalf("RecordProperty(%q) = %q %v, Decode has %q %v", key, v, ok, want, wantOK)
		}
	})
}
