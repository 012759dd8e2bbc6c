package client

import (
	"maps"
	"testing"

	"github.com/skiffmq/skiff/internal/auth"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
)

func TestCredentialsSignerSignsAndResigns(t *testing.T) {
	if (Credentials{AccessKey: "ak"}).Signer() != nil {
		t.Fatal("credentials without a secret key must not sign")
	}
	sign := Credentials{AccessKey: "ak", SecretKey: "sk", SecurityToken: "tok"}.Signer()
	req := remoting.NewRequest(remoting.SendMessage, map[string]string{"topic": "T"}, []byte("body"))
	sign(req)
	sign(req) // a retried request is signed again over the same fields
	if req.ExtFields[auth.FieldAccessKey] != "ak" || req.ExtFields[auth.FieldSecurityToken] != "tok" {
		t.Fatalf("fields %v", req.ExtFields)
	}
	if !auth.NewACLKey("sk").Verify(req.ExtFields[auth.FieldSignature], maps.All(req.ExtFields), req.Body) {
		t.Fatal("the SDK's signature does not verify")
	}
	req.Body = []byte("other")
	if auth.NewACLKey("sk").Verify(req.ExtFields[auth.FieldSignature], maps.All(req.ExtFields), req.Body) {
		t.Fatal("a changed body verified")
	}
}

// TestCredentialsSignerListHeader: a request whose header is a list (the producer's
// SEND_MESSAGE_V2) is signed over that list, and a retry signs it again without repeating fields.
func TestCredentialsSignerListHeader(t *testing.T) {
	sign := Credentials{AccessKey: "ak", SecretKey: "sk"}.Signer()
	h := protocol.SendMessageRequestHeader{ProducerGroup: "g", Topic: "T", DefaultTopic: "TBW102", DefaultTopicQueueNums: 4, BornTimestamp: 1}
	req := remoting.NewRequestList(remoting.SendMessageV2, []byte("body")).SetRawExt(h.AppendShort(nil))
	sign(req)
	sign(req)
	fields := func(yield func(string, string) bool) {
		for _, f := range req.RawExt() {
			if !yield(f.Key, f.Value) {
				return
			}
		}
	}
	n := 0
	for k := range fields {
		if k == auth.FieldSignature || k == auth.FieldAccessKey {
			n++
		}
	}
	if n != 2 || req.ExtValue(auth.FieldAccessKey) != "ak" {
		t.Fatalf("after two signatures the list holds %d AccessKey/Signature entries: %v", n, req.RawExt())
	}
	if !auth.NewACLKey("sk").Verify(req.ExtValue(auth.FieldSignature), fields, req.Body) {
		t.Fatal("the SDK's signature over a list header does not verify")
	}
}
