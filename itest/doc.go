// Package itest holds tests that run the real mqnamesrv, mqbroker and mqadmin binaries as
// processes: name-server failover and broker expiry (SIGKILL, SIGSTOP/SIGCONT), mqadmin against a
// live cluster, and malformed remoting input against both servers' ports. TestMain builds the
// binaries once; every test skips under -short.
//
//	go test -count=1 ./itest/
package itest
