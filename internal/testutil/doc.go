// Package testutil holds Skiff's test helpers: free ports, polling until a condition holds, a
// slog handler that writes to t.Log, seeded randomness, the binary builder and the process
// launcher that itest/ and compat/ use to run real mqnamesrv and mqbroker processes.
//
// It imports only the standard library and internal/remoting (never the official client), so the
// compat module can use it through a replace directive.
//
// # Processes
//
// Start runs a binary with SKIFF_PID_DIR set to a fresh temporary folder (unless the caller sets
// it), captures stdout and stderr into one log file, and registers a cleanup that kills the
// process with SIGKILL if it is still running when the test ends and prints the tail of its log
// when the test failed. Processes are only ever signalled by PID.
//
// # Readiness
//
// StartNamesrv waits until a TCP dial to the name server succeeds. StartBroker waits until every
// name server lists the broker's address in its GET_BROKER_CLUSTER_INFO (106) body:
//
//	request  106, no extFields, no body
//	response 0, body {"brokerAddrTable":{"b":{"brokerAddrs":{0:"127.0.0.1:P"},...}},...}
//
// Only the presence of the quoted address in the body is checked, which holds for both the
// fastjson form (unquoted ids) and standard JSON.
//
// # Seeds
//
// Rand returns a math/rand/v2 generator seeded from SKIFF_TEST_SEED or the clock; the seed is
// logged when the test fails, so a failing run can be repeated.
package testutil
