// Package compat runs the official rocketmq-client-go/v2 v2.1.2, unmodified, against real Skiff
// mqnamesrv and mqbroker processes. The cases are listed in README.md.
package compat
