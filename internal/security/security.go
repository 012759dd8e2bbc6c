// Package security connects the ACL (internal/acl) and node authentication (internal/auth) to the
// daemons: it loads the cluster secret, decides each incoming request (Guard), signs the daemon's
// own outgoing requests (Signer) and builds TLS configurations. The broker and the name server use
// it the same way; it starts no goroutines (the daemon's loop calls Guard.Reload).
package security

import (
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/skiffmq/skiff/internal/acl"
	"github.com/skiffmq/skiff/internal/auth"
	"github.com/skiffmq/skiff/internal/metrics"
	"github.com/skiffmq/skiff/internal/remoting"
)

// LoadSecret returns the cluster secret from the value or, when value is empty, from file
// (trailing whitespace trimmed). Both empty: nil, no authentication. Errors name the key, never
// the secret.
func LoadSecret(value, file string) ([]byte, error) {
	if value != "" && file != "" {
		return nil, errors.New("clusterSecret and clusterSecretFile are both set: use one")
	}
	s := value
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("clusterSecretFile = %q: %w", file, err)
		}
		s = strings.TrimRight(string(data), " \t\r\n")
	}
	if s == "" {
		if file != "" {
			return nil, fmt.Errorf("clusterSecretFile = %q: the file is empty", file)
		}
		return nil, nil
	}
	if len(s) < auth.MinSecretLen {
		key := "clusterSecret"
		if file != "" {
			key = "clusterSecretFile " + file
		}
		return nil, fmt.Errorf("%s: the secret has %d bytes, at least %d are needed", key, len(s), auth.MinSecretLen)
	}
	return []byte(s), nil
}

// GuardConfig configures a Guard.
type GuardConfig struct {
	ACL      *acl.Authorizer // nil: ACL off
	Secret   []byte          // nil: node links unauthenticated
	NodeOnly map[int32]bool  // codes only nodes may send when Secret is set
	// NodeOnlyFields are extFields only nodes may send when Secret is set (the broker's
	// skiffReplicatedFromMaster marker): a request carrying one without a node signature is
	// refused, so a client cannot pass itself off as a node by setting the field.
	NodeOnlyFields []string
	Metrics        *metrics.Set // may be nil
	Logger         *slog.Logger
	Now            func() time.Time // clock of the node-signature window; nil = time.Now
	Window         time.Duration    // accepted clock difference between nodes; default 2 min
}

// Guard decides incoming requests. Order: a request carrying a node signature is a node's and must
// verify (then it passes, ACL or not); a node-only code without one is refused; otherwise the ACL
// decides when it is on. Refusals are NO_PERMISSION, logged (no secret, no signature) and counted in
// skiff_acl_refused_total{reason}.
type Guard struct {
	acl        *acl.Authorizer
	node       *auth.NodeVerifier
	nodeOnly   map[int32]bool
	nodeFields []string
	metrics    *metrics.Set
	log        *slog.Logger
}

// NewGuard returns nil when neither the ACL nor a secret is configured: callers then install no
// hook at all, so a default deployment pays nothing.
func NewGuard(cfg GuardConfig) *Guard {
	if cfg.ACL == nil && cfg.Secret == nil {
		return nil
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Guard{acl: cfg.ACL, nodeOnly: cfg.NodeOnly, nodeFields: cfg.NodeOnlyFields, metrics: cfg.Metrics,
		log: cfg.Logger.With("component", "security")}
	if cfg.Secret != nil {
		g.node = auth.NewNodeVerifier(cfg.Secret, cfg.Window, cfg.Now)
	}
	return g
}

// Authorize decides req from the peer remote. ok false means: answer code with remark.
func (g *Guard) Authorize(remote string, req *remoting.Command) (code int32, remark string, ok bool) {
	return g.AuthorizeFrom(remote, netip.Addr{}, req)
}

// AuthorizeFrom is Authorize for a peer whose address the caller has already parsed (the
// server's connection keeps it): addr is remote's IP, or the zero Addr to parse remote.
func (g *Guard) AuthorizeFrom(remote string, addr netip.Addr, req *remoting.Command) (code int32, remark string, ok bool) {
	if g.node != nil {
		if _, signed := req.Ext(auth.FieldNodeSig); signed {
			err := g.node.Verify(req.Code, req.Ext, extFields(req), req.Body)
			if err == nil {
				return 0, "", true
			}
			return g.refuse(remote, req.Code, "node_auth", "", "", fmt.Sprintf("node authentication failed: %v", err))
		}
		if g.nodeOnly[req.Code] {
			return g.refuse(remote, req.Code, "node_auth", "", "", fmt.Sprintf("request code %d is for cluster nodes only and carries no node signature", req.Code))
		}
		for _, f := range g.nodeFields {
			if _, has := req.Ext(f); has {
				return g.refuse(remote, req.Code, "node_auth", "", "", fmt.Sprintf("extField %s is for cluster nodes only and the request (code %d) carries no node signature", f, req.Code))
			}
		}
	}
	if g.acl == nil {
		return 0, "", true
	}
	d := g.acl.Check(&acl.Request{Code: req.Code, Remote: remote, Addr: addr, Cmd: req, Body: req.Body})
	if d == nil {
		return 0, "", true
	}
	return g.refuse(remote, req.Code, string(d.Reason), d.AccessKey, d.Resource, d.Error())
}

func (g *Guard) refuse(remote string, code int32, reason, ak, resource, remark string) (int32, string, bool) {
	g.log.Warn("request refused", "addr", remote, "code", code, "reason", reason, "accessKey", ak, "resource", resource)
	if g.metrics != nil {
		g.metrics.Add("skiff_acl_refused_total", 1, "reason", reason)
	}
	return remoting.NoPermission, remark, false
}

// extFields enumerates every extField of req, as the signature needs (every raw entry that
// travelled, including ones no handler reads).
func extFields(req *remoting.Command) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) { req.RangeExt(yield) }
}

// Reload re-reads the ACL file when it changed; it logs what happened. Call it from the daemon's
// loop every aclReloadInterval.
func (g *Guard) Reload() {
	if g == nil || g.acl == nil {
		return
	}
	changed, err := g.acl.Reload()
	switch {
	case err != nil:
		g.log.Error("ACL file not reloaded", "err", err)
	case changed:
		g.log.Info("ACL file reloaded", "path", g.acl.Path(), "accounts", g.acl.Table().Accounts())
	}
}

// CheckHTTPAdmin decides a change made through HTTP (the admin API's write actions, dashboard
// actions): with the ACL on, accessKey/secretKey (HTTP Basic user and password) must be an admin
// account of plain_acl.yml; with it off every caller may act (as before). who names the caller
// for the audit log. Refusals are logged and counted like remoting refusals.
func (g *Guard) CheckHTTPAdmin(remote, accessKey, secretKey string) (who string, err error) {
	if !g.ACLEnabled() {
		return "anonymous@" + remote, nil
	}
	if err := g.acl.CheckAdmin(accessKey, secretKey); err != nil {
		g.log.Warn("HTTP action refused", "addr", remote, "accessKey", accessKey, "err", err)
		if g.metrics != nil {
			g.metrics.Add("skiff_acl_refused_total", 1, "reason", "http_admin")
		}
		return "", err
	}
	return accessKey + "@" + remote, nil
}

// ACLEnabled reports whether client requests are checked against an ACL.
func (g *Guard) ACLEnabled() bool { return g != nil && g.acl != nil }

// Signer signs a daemon's own requests to other nodes: with the cluster secret when one is set,
// else with ACL inner credentials when those are set, else not at all.
type Signer struct {
	Secret    []byte
	AccessKey string
	SecretKey string
	Now       func() time.Time

	keyOnce sync.Once
	key     *auth.ACLKey // SecretKey's HMAC states, made on first use
}

// Sign adds the signature fields to req (whose extFields and body are final). It writes through
// Command.SetExt and reads through extFields, so it works on either header form; the old
// Signature / SkiffNodeSig is left out of the content, so re-signing a retried request is fine.
func (s *Signer) Sign(req *remoting.Command) {
	if s == nil {
		return
	}
	set := func(k, v string) { req.SetExt(k, v) }
	switch {
	case s.Secret != nil:
		now := time.Now
		if s.Now != nil {
			now = s.Now
		}
		auth.SignNodeFields(s.Secret, req.Code, set, extFields(req), req.Body, now())
	case s.AccessKey != "":
		s.keyOnce.Do(func() { s.key = auth.NewACLKey(s.SecretKey) })
		s.key.SignCommand(req, s.AccessKey, "")
	}
}
