package main

import (
	"fmt"
	"log/slog"

	"github.com/skiffmq/skiff/broker"
	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/dashboard"
	"github.com/skiffmq/skiff/internal/config"
)

// newDashboard builds the dashboard of this broker alone: the same pages as the name server's,
// scoped to the broker's address, read over the remoting protocol (from the broker itself and,
// for routes, from its name servers).
// With aclEnable its actions need an admin account of aclFile as HTTP Basic credentials (check),
// and so do its pages; pages read with the broker's inner credentials (innerAccessKey), actions
// run as that admin.
func newDashboard(cfg broker.Config, log *slog.Logger, check func(remote, user, password string) (string, error)) (*dashboard.Dashboard, error) {
	ns, err := config.ParseAddrList(cfg.NamesrvAddr)
	if err != nil {
		return nil, err
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("namesrvAddr is empty")
	}
	opts := []admin.Option{admin.WithNameServers(ns), admin.WithLogger(log)}
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
			ua, err := admin.New(admin.WithNameServers(ns), admin.WithLogger(log),
				admin.WithCredentials(client.Credentials{AccessKey: user, SecretKey: password}))
			if err != nil {
				return nil, nil, err
			}
			return ua, func() { _ = ua.Close() }, nil
		}
	}
	dc := dashboard.Config{Source: a, Scope: cfg.BrokerAddr(),
		Title: fmt.Sprintf("broker %s (%s, id %d)", cfg.BrokerName, cfg.BrokerAddr(), cfg.BrokerID), Logger: log,
		Authorize: dashboard.BasicAuth(!cfg.AclEnable, check, actAs)}
	if cfg.AclEnable {
		// With ACL on the pages show message bodies, offsets and configuration: viewing needs an
		// admin account too (the pages then read with the inner credentials).
		dc.AuthorizeRead = dashboard.BasicAuth(false, check, nil)
	}
	return dashboard.New(dc)
}
