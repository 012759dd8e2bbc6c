package main

import (
	"log/slog"
	"net"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/dashboard"
	"github.com/skiffmq/skiff/namesrv"
)

// newDashboard builds the cluster-wide dashboard of the name server listening on addr; it reads
// the cluster through this name server over the remoting protocol.
// With aclEnable its actions need an admin account of aclFile as HTTP Basic credentials (check),
// and so do its pages; pages read with the name server's inner credentials (innerAccessKey),
// actions run as that admin.
func newDashboard(addr string, sample time.Duration, log *slog.Logger, cfg namesrv.Config,
	check func(remote, user, password string) (string, error)) (*dashboard.Dashboard, error) {
	opts := []admin.Option{admin.WithNameServers([]string{dialable(addr)}), admin.WithLogger(log)}
	if cfg.InnerAccessKey != "" {
		opts = append(opts, admin.WithCredentials(client.Credentials{AccessKey: cfg.InnerAccessKey, SecretKey: cfg.InnerSecretKey}))
	}
	a, err := admin.New(opts...)
	if err != nil {
		return nil, err
	}
	// With ACL on an action runs with the credentials of the admin who takes it, so the brokers
	// and name servers check (and log) that account, not the daemon's own.
	var actAs func(user, password string) (dashboard.Source, func(), error)
	if cfg.AclEnable {
		actAs = func(user, password string) (dashboard.Source, func(), error) {
			ua, err := admin.New(admin.WithNameServers([]string{dialable(addr)}), admin.WithLogger(log),
				admin.WithCredentials(client.Credentials{AccessKey: user, SecretKey: password}))
			if err != nil {
				return nil, nil, err
			}
			return ua, func() { _ = ua.Close() }, nil
		}
	}
	dc := dashboard.Config{Source: a, Title: "name server " + addr, Logger: log, SampleInterval: sample,
		Authorize: dashboard.BasicAuth(!cfg.AclEnable, check, actAs)}
	if cfg.AclEnable {
		// With ACL on the pages show message bodies, offsets and configuration: viewing needs an
		// admin account too (the pages then read with the inner credentials).
		dc.AuthorizeRead = dashboard.BasicAuth(false, check, nil)
	}
	return dashboard.New(dc)
}

// dialable turns a wildcard listen address (0.0.0.0:9876, [::]:9876) into a loopback one.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// dashboardURL is the address a person opens.
func dashboardURL(httpAddr string) string {
	return "http://" + dialable(httpAddr) + dashboard.PagePrefix
}
