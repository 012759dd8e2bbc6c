package broker

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzBrokerLoadConfig runs the real loader (strict TOML decode over the defaults, then
// Validate) on arbitrary file contents: it never panics, and a config it accepts validates again
// to the same values (Validate fills derived values once and for all).
func FuzzBrokerLoadConfig(f *testing.F) {
	for _, p := range []string{"../conf/broker.toml", "../conf/2m-2s-async/broker-a.toml", "../conf/2m-2s-sync/broker-b-s.toml", "../conf/2m-noslave/broker-a.toml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("brokerRole = \"SLAVE\"\nbrokerId = 0\n"))
	f.Add([]byte("listenPort = 70000\n"))
	f.Add([]byte("mappedFileSizeCommitLog = 65536\nmaxMessageSize = 40000\n"))
	f.Add([]byte("messageDelayLevel = \"1s 1x\"\n"))
	f.Add([]byte("storePathRootDir = \"\"\nhaListenPort = -1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "broker.toml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(path)
		if err != nil {
			return
		}
		again := cfg
		if err := again.Validate(); err != nil {
			t.Fatalf("an accepted config fails Validate again: %v", err)
		}
		if !reflect.DeepEqual(again, cfg) {
			t.Fatalf("Validate changed an accepted config:\n%+v\n%+v", cfg, again)
		}
		_ = cfg.Properties()
		_ = cfg.StoreConfig()
	})
}
