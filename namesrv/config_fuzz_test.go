package namesrv

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzNamesrvLoadConfig runs the real loader and Validate on arbitrary file contents: no panic,
// and a config that validates validates again unchanged.
func FuzzNamesrvLoadConfig(f *testing.F) {
	if b, err := os.ReadFile("../conf/namesrv.toml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("listenPort = 9876\nhttpPort = 9876\n"))
	f.Add([]byte("kvConfigPath = \"~/x/kv.json\"\n"))
	f.Add([]byte("scanNotActiveBrokerInterval = -1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "namesrv.toml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(path)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			return
		}
		again := cfg
		if err := again.Validate(); err != nil || !reflect.DeepEqual(again, cfg) {
			t.Fatalf("Validate is not stable on an accepted config: %v\n%+v\n%+v", err, cfg, again)
		}
	})
}
