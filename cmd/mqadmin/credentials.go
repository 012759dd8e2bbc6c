package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/internal/config"
	"github.com/skiffmq/skiff/internal/security"
)

// defaultToolsConfig is read when it exists and --toolsConfig is not given.
const defaultToolsConfig = "conf/tools.toml"

// securityFlags are added to every command.
func securityFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "accessKey", Aliases: []string{"ak"}, Usage: "ACL access key (an admin account for changes)", EnvVars: []string{"SKIFF_ACCESS_KEY"}},
		&cli.StringFlag{Name: "secretKey", Aliases: []string{"sk"}, Usage: "ACL secret key", EnvVars: []string{"SKIFF_SECRET_KEY"}},
		&cli.BoolFlag{Name: "tls", Usage: "connect over TLS (servers with tlsServerMode permissive or enforcing)"},
		&cli.StringFlag{Name: "tlsTrustCertPath", Usage: "PEM `file` of the CA that signed the servers' certificates (default: system roots)"},
		&cli.StringFlag{Name: "toolsConfig", Usage: "TOML `file` with accessKey, secretKey, tlsEnable, tlsTrustCertPath", Value: defaultToolsConfig},
	}
}

// securityOptions reads conf/tools.toml (when present) and the flags, flags winning.
func securityOptions(c *cli.Context) ([]admin.Option, error) {
	var tc security.ToolsConfig
	path := c.String("toolsConfig")
	if err := config.Load(path, &tc); err != nil {
		if !(errors.Is(err, fs.ErrNotExist) && !c.IsSet("toolsConfig")) {
			return nil, err
		}
	}
	if c.IsSet("accessKey") || os.Getenv("SKIFF_ACCESS_KEY") != "" {
		tc.AccessKey = c.String("accessKey")
	}
	if c.IsSet("secretKey") || os.Getenv("SKIFF_SECRET_KEY") != "" {
		tc.SecretKey = c.String("secretKey")
	}
	if c.IsSet("tls") {
		tc.TLSEnable = c.Bool("tls")
	}
	if c.IsSet("tlsTrustCertPath") {
		tc.TLSTrustCertPath = c.String("tlsTrustCertPath")
	}
	if (tc.AccessKey == "") != (tc.SecretKey == "") {
		return nil, fmt.Errorf("--accessKey and --secretKey go together")
	}
	var opts []admin.Option
	if tc.AccessKey != "" {
		opts = append(opts, admin.WithCredentials(client.Credentials{AccessKey: tc.AccessKey, SecretKey: tc.SecretKey}))
	}
	if tc.TLSEnable || tc.TLSTrustCertPath != "" {
		cfg, err := security.ClientTLS(tc.TLSTrustCertPath)
		if err != nil {
			return nil, err
		}
		opts = append(opts, admin.WithTLS(cfg))
	}
	return opts, nil
}
