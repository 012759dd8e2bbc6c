package main

import (
	"log/slog"
	"net"
	"time"

	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/dashboard"
)

// newDashboard builds the cluster-wide dashboard of the name server listening on addr; it reads
// the cluster through this name server over the remoting protocol.
func newDashboard(addr string, sample time.Duration, log *slog.Logger) (*dashboard.Dashboard, error) {
	a, err := admin.New(admin.WithNameServers([]string{dialable(addr)}), admin.WithLogger(log))
	if err != nil {
		return nil, err
	}
	return dashboard.New(dashboard.Config{Source: a, Title: "name server " + addr, Logger: log, SampleInterval: sample})
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
