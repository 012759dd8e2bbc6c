package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestPrintRowsACLRatios: with the ACL pair (--only aclon) the table ends with ACL on / ACL off
// (msg/s, and CPU per message of broker and load, and the same without the broker's pre-fault when
// the rows measured one), and with ACL on / the async row when that row ran too; without the pair
// neither line appears.
func TestPrintRowsACLRatios(t *testing.T) {
	async := Row{Name: "SDK async publish (4 producers x 256 in flight)", MsgPerSec: 50000, ServerName: "broker"}
	off := Row{Name: aclOffRow + " (4 x 256)", MsgPerSec: 40000, ServerName: "broker", ServerCPU: 12, LoadCPU: 12}
	on := Row{Name: aclOnRow + " (4 x 256)", MsgPerSec: 34000, ServerName: "broker", ServerCPU: 15, LoadCPU: 15}
	for _, tc := range []struct {
		rows []Row
		want []string
		not  []string
	}{
		{[]Row{async, off, on}, []string{"ACL on / ACL off async publish: 0.85 (target >= 0.9); CPU per message, broker + load, off / on: 0.80 (24.00 / 30.00 µs; broker +3.00, load +3.00)",
			"ACL on / async row: 0.68"}, nil},
		{[]Row{off, on}, []string{"ACL on / ACL off async publish: 0.85"}, []string{"ACL on / async row"}},
		{[]Row{async}, nil, []string{"ACL on"}},
		{[]Row{off, on}, nil, []string{"without pre-fault"}},
		{[]Row{withPrefault(off, 2), withPrefault(on, 4)}, []string{"off / on: 0.80 (24.00 / 30.00 µs; broker +3.00, load +3.00); without pre-fault: 0.85 (22.00 / 26.00 µs; broker +1.00)"}, nil},
	} {
		var b bytes.Buffer
		printRows(&b, tc.rows)
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("rows %d: no %q in\n%s", len(tc.rows), w, b.String())
			}
		}
		for _, n := range tc.not {
			if strings.Contains(b.String(), n) {
				t.Errorf("rows %d: %q in\n%s", len(tc.rows), n, b.String())
			}
		}
		// The ACL-off row must not count as the async row (prefix "SDK async publish (").
		if strings.Contains(b.String(), "Skiff async publish / baseline") {
			t.Errorf("unexpected baseline ratio:\n%s", b.String())
		}
	}
}

// withPrefault is r with pre-fault CPU p µs/msg (part of its server CPU).
func withPrefault(r Row, p float64) Row {
	r.PrefaultCPU = p
	return r
}
