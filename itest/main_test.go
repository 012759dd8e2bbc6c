package itest

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/skiffmq/skiff/internal/testutil"
)

// bins holds the binaries TestMain built; nil under -short.
var bins *testutil.Binaries

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	b, err := testutil.BuildBinaries("mqnamesrv", "mqbroker", "mqadmin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	bins = b
	code := m.Run()
	b.Cleanup()
	os.Exit(code)
}

// needProcesses skips the test under -short.
func needProcesses(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real processes; skipped under -short")
	}
}
