package client

import (
	"maps"
	"testing"

	"github.com/skiffmq/skiff/internal/auth"
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
