package security

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiffmq/skiff/internal/acl"
	"github.com/skiffmq/skiff/internal/remoting"
)

func TestSecurityGuardNilWhenOff(t *testing.T) {
	if g := NewGuard(GuardConfig{}); g != nil {
		t.Fatal("a guard without ACL and secret must be nil (no hook, no cost)")
	}
	var g *Guard
	if who, err := g.CheckHTTPAdmin("1.2.3.4:5", "", ""); err != nil || !strings.HasPrefix(who, "anonymous") {
		t.Fatalf("HTTP actions with ACL off: %q %v", who, err)
	}
	g.Reload() // a nil guard is a no-op
}

func TestSecurityGuardHTTPAdminAndSigner(t *testing.T) {
	tab, err := acl.Parse([]byte("accounts:\n  - {accessKey: app, secretKey: appSecret}\n  - {accessKey: boss, secretKey: bossSecret, admin: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	g := NewGuard(GuardConfig{ACL: acl.NewAuthorizer(tab)})
	if who, err := g.CheckHTTPAdmin("1.2.3.4:5", "boss", "bossSecret"); err != nil || who != "boss@1.2.3.4:5" {
		t.Fatalf("admin: %q %v", who, err)
	}
	if _, err := g.CheckHTTPAdmin("1.2.3.4:5", "app", "appSecret"); !errors.Is(err, acl.ErrNotAdmin) {
		t.Fatalf("non-admin: %v", err)
	}
	// A request signed by Signer with inner credentials passes the guard; unsigned is refused.
	req := remoting.NewRequest(remoting.UpdateAndCreateTopic, map[string]string{"topic": "T"}, nil)
	(&Signer{AccessKey: "boss", SecretKey: "bossSecret"}).Sign(req)
	(&Signer{AccessKey: "boss", SecretKey: "bossSecret"}).Sign(req) // a retry signs the same command again
	if code, remark, ok := g.Authorize("1.2.3.4:5", req); !ok {
		t.Fatalf("signed admin request refused: %d %s", code, remark)
	}
	if code, _, ok := g.Authorize("1.2.3.4:5", remoting.NewRequest(remoting.UpdateAndCreateTopic, map[string]string{"topic": "T"}, nil)); ok || code != remoting.NoPermission {
		t.Fatalf("unsigned admin request: ok=%v code=%d", ok, code)
	}
}

func TestSecurityLoadSecret(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "s")
	if err := os.WriteFile(f, []byte("0123456789abcdefXYZ\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := LoadSecret("", f); err != nil || string(s) != "0123456789abcdefXYZ" {
		t.Fatalf("from file: %q %v", s, err)
	}
	if s, err := LoadSecret("", ""); err != nil || s != nil {
		t.Fatalf("none: %q %v", s, err)
	}
	if _, err := LoadSecret("", filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing secret file accepted")
	}
}
