package protocol

import (
	"errors"
	"strings"
	"testing"
)

func TestEndTransactionHeaderRequiredFieldsAndLastValueWins(t *testing.T) {
	full := []ExtField{{"producerGroup", "pg"}, {"tranStateTableOffset", "3"}, {"commitLogOffset", "1024"},
		{"commitOrRollback", "8"}, {"fromTransactionCheck", "TRUE"}, {"msgId", "M"}, {"transactionId", "T"}}
	h, err := DecodeEndTransactionRequestHeader(full)
	if err != nil {
		t.Fatal(err)
	}
	want := EndTransactionRequestHeader{ProducerGroup: "pg", TranStateTableOffset: 3, CommitLogOffset: 1024,
		CommitOrRollback: TransactionCommit, FromTransactionCheck: true, MsgID: "M", TransactionID: "T"}
	if h != want {
		t.Fatalf("got %+v, want %+v", h, want)
	}
	// A repeated key: the last value is the one read (as Lookup and the signature read it).
	h, err = DecodeEndTransactionRequestHeader(append(full, ExtField{"commitOrRollback", "12"}))
	if err != nil || h.CommitOrRollback != TransactionRollback {
		t.Fatalf("repeated commitOrRollback: %+v, %v", h, err)
	}
	for i, name := range []string{"producerGroup", "tranStateTableOffset", "commitLogOffset", "commitOrRollback"} {
		ext := append(append([]ExtField{}, full[:i]...), full[i+1:]...)
		_, err := DecodeEndTransactionRequestHeader(ext)
		if !errors.Is(err, ErrHeaderField) || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: error %v does not name it", name, err)
		}
	}
	bad := append([]ExtField{}, full...)
	bad[2].Value = "12x"
	if _, err := DecodeEndTransactionRequestHeader(bad); err == nil || !strings.Contains(err.Error(), `commitLogOffset = "12x"`) {
		t.Errorf("bad commitLogOffset: error %v does not name field and value", err)
	}
	// Optional fields may be absent.
	h, err = DecodeEndTransactionRequestHeader(full[:4])
	if err != nil || h.FromTransactionCheck || h.MsgID != "" {
		t.Fatalf("minimal header: %+v, %v", h, err)
	}
}

func TestCheckTransactionStateHeader(t *testing.T) {
	in := CheckTransactionStateRequestHeader{TranStateTableOffset: 9, CommitLogOffset: 77, MsgID: "m", TransactionID: "t", OffsetMsgID: "o"}
	h, err := DecodeCheckTransactionStateRequestHeader(in.Append(nil))
	if err != nil || h != in {
		t.Fatalf("round trip: %+v, %v", h, err)
	}
	if _, err := DecodeCheckTransactionStateRequestHeader([]ExtField{{"tranStateTableOffset", "1"}}); err == nil || !strings.Contains(err.Error(), "commitLogOffset") {
		t.Fatalf("missing commitLogOffset: %v", err)
	}
}
