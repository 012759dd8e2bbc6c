package security

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// TLS server modes (RocketMQ's tls.server.mode).
const (
	TLSDisabled   = "disabled"   // plain TCP only
	TLSPermissive = "permissive" // TLS and plain TCP on the same port
	TLSEnforcing  = "enforcing"  // TLS only
)

// CheckTLSMode validates a tlsServerMode value with its certificate and key paths.
func CheckTLSMode(mode, certPath, keyPath string) error {
	switch mode {
	case TLSDisabled:
		return nil
	case TLSPermissive, TLSEnforcing:
		if certPath == "" || keyPath == "" {
			return fmt.Errorf("tlsServerMode = %s needs tlsServerCertPath and tlsServerKeyPath", mode)
		}
		return nil
	}
	return fmt.Errorf("tlsServerMode = %q: want disabled, permissive or enforcing", mode)
}

// ServerTLS loads the listener's certificate; nil for mode disabled.
func ServerTLS(mode, certPath, keyPath string) (*tls.Config, error) {
	if err := CheckTLSMode(mode, certPath, keyPath); err != nil {
		return nil, err
	}
	if mode == TLSDisabled {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("tlsServerCertPath = %q, tlsServerKeyPath = %q: %w", certPath, keyPath, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// ClientTLS returns the configuration of a TLS client trusting the PEM CA file trustPath, or the
// system roots when trustPath is empty.
func ClientTLS(trustPath string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if trustPath == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(trustPath)
	if err != nil {
		return nil, fmt.Errorf("tlsTrustCertPath = %q: %w", trustPath, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tlsTrustCertPath = %q: no PEM certificate in the file", trustPath)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// ToolsConfig is conf/tools.toml: the ACL credentials and TLS settings of mqadmin (RocketMQ keeps
// them in conf/tools.yml).
type ToolsConfig struct {
	AccessKey        string `toml:"accessKey"`
	SecretKey        string `toml:"secretKey"`
	TLSEnable        bool   `toml:"tlsEnable"`
	TLSTrustCertPath string `toml:"tlsTrustCertPath"`
}
