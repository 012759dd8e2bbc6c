package broker

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"github.com/skiffmq/skiff/internal/acl"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
	"github.com/skiffmq/skiff/internal/security"
)

// nodeOnlyCodes are the requests only cluster nodes send (a slave's metadata sync of offsets);
// with a cluster secret set they need a node signature.
var nodeOnlyCodes = map[int32]bool{
	remoting.GetAllConsumerOffset: true,
	remoting.GetAllDelayOffset:    true,
}

// nodeOnlyFields are the extFields only cluster nodes send: the marker of a topic or group change
// a controller-mode master forwards to its in-sync replicas (a slave applies such a change, a
// master does not forward it again). With a cluster secret set, a request carrying it needs a node
// signature, so a client cannot make a slave change its metadata or a master skip the
// replication by setting it. Without a secret no node link is authenticated (docs/security.md).
var nodeOnlyFields = []string{replicatedField}

// brokerSecurity is what New builds from the security keys (docs/security.md).
type brokerSecurity struct {
	guard     *security.Guard  // nil: no check at all (aclEnable=false, no clusterSecret)
	signer    *security.Signer // signs the broker's own calls; nil signs nothing
	secret    []byte
	serverTLS *tls.Config // remoting listener (tlsServerMode != disabled)
	clientTLS *tls.Config // the broker's own calls (tlsEnable)
}

func (b *Broker) setupSecurity() error {
	cfg := b.conf()
	secret, err := security.LoadSecret(cfg.ClusterSecret, cfg.ClusterSecretFile)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	var az *acl.Authorizer
	if cfg.AclEnable {
		if az, err = acl.Load(cfg.AclFile); err != nil {
			return fmt.Errorf("broker: aclEnable = true: %w", err)
		}
		b.log.Info("ACL enabled", "file", cfg.AclFile, "accounts", az.Table().Accounts())
	}
	b.sec.secret = secret
	b.sec.guard = security.NewGuard(security.GuardConfig{ACL: az, Secret: secret, NodeOnly: nodeOnlyCodes,
		NodeOnlyFields: nodeOnlyFields, Metrics: b.metrics, Logger: b.log, Now: b.now})
	if secret != nil || cfg.InnerAccessKey != "" {
		b.sec.signer = &security.Signer{Secret: secret, AccessKey: cfg.InnerAccessKey, SecretKey: cfg.InnerSecretKey, Now: b.now}
	}
	if secret != nil {
		b.log.Info("cluster links authenticated with the cluster secret (HA, registration, metadata sync)")
	}
	if b.sec.serverTLS, err = security.ServerTLS(cfg.TLSServerMode, cfg.TLSServerCertPath, cfg.TLSServerKeyPath); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	if cfg.TLSEnable {
		if b.sec.clientTLS, err = security.ClientTLS(cfg.TLSTrustCertPath); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
	}
	return nil
}

// authorizer is the remoting server's hook; nil when nothing is checked (no cost). It hands the
// guard the peer's address as the connection parsed it when it opened.
func (b *Broker) authorizer() server.Authorizer {
	g := b.sec.guard
	if g == nil {
		return nil
	}
	return func(c *server.Conn, req *remoting.Command) *remoting.Command {
		if code, remark, ok := g.AuthorizeFrom(c.RemoteAddr(), c.RemoteAddrPort().Addr(), req); !ok {
			return remoting.NewResponse(req, code, remark)
		}
		return nil
	}
}

// signFunc is the Sign hook of the broker's rpc client: every request the broker sends to another
// node (registration, metadata sync, controller calls) is signed; nil when there is nothing to
// sign with.
func (b *Broker) signFunc() func(*remoting.Command) {
	if b.sec.signer == nil {
		return nil
	}
	return b.sec.signer.Sign
}

// aclReloadLoop re-reads the ACL file every aclReloadInterval. Concurrency model (a): this
// goroutine is the only caller of Guard.Reload.
func (b *Broker) aclReloadLoop(ctx context.Context) {
	t := time.NewTicker(ms(b.conf().AclReloadInterval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			b.sec.guard.Reload()
		}
	}
}

// haServerTLS is the HA listener's TLS (nil in mode disabled) and whether it also serves plain
// slaves (permissive).
func (b *Broker) haServerTLS() (*tls.Config, bool) {
	return b.sec.serverTLS, b.conf().TLSServerMode == TLSPermissive
}

// CheckHTTPAdmin gates changes made over HTTP (dashboard actions, write actions of the admin
// API): with aclEnable the Basic credentials must be an admin account of aclFile; without ACL
// every caller may act, as before. who names the caller for the audit log.
func (b *Broker) CheckHTTPAdmin(remote, accessKey, secretKey string) (who string, err error) {
	return b.sec.guard.CheckHTTPAdmin(remote, accessKey, secretKey)
}
