// Package conf_test parses every shipped configuration file, so the files in conf/ cannot rot.
package conf_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/skiffmq/skiff/broker"
	"github.com/skiffmq/skiff/internal/acl"
	"github.com/skiffmq/skiff/internal/config"
	"github.com/skiffmq/skiff/internal/security"
	"github.com/skiffmq/skiff/namesrv"
)

// decoders maps a file-name pattern (matched against the base name) to a function that strictly
// decodes and validates the file. Every file under conf/ must match exactly one pattern.
var decoders = []struct {
	pattern *regexp.Regexp
	decode  func(path string) error
}{
	{regexp.MustCompile(`^namesrv.*\.toml$`), func(path string) error {
		cfg := namesrv.DefaultConfig()
		return config.Load(path, &cfg)
	}},
	{regexp.MustCompile(`^broker.*\.toml$`), func(path string) error {
		_, err := broker.LoadConfig(path)
		return err
	}},
	{regexp.MustCompile(`^plain_acl\.yml$`), func(path string) error {
		_, err := acl.Load(path)
		return err
	}},
	{regexp.MustCompile(`^tools\.toml$`), func(path string) error {
		var tc security.ToolsConfig
		return config.Load(path, &tc)
	}},
}

// ignored lists base names that are not configuration files.
var ignored = regexp.MustCompile(`^(conf_test\.go|README(\.md)?)$`)

func TestConfigShippedFilesParse(t *testing.T) {
	// Loading expands nothing from HOME that must exist, but keep the tests hermetic anyway.
	t.Setenv("HOME", t.TempDir())
	seen := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (d.Name() == "testdata" || d.Name()[0] == '.') {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if ignored.MatchString(name) {
			return nil
		}
		var matched []int
		for i, dec := range decoders {
			if dec.pattern.MatchString(name) {
				matched = append(matched, i)
			}
		}
		switch len(matched) {
		case 0:
			t.Errorf("%s: no decoder knows this file; add its pattern to conf_test.go", path)
		case 1:
			seen++
			if err := decoders[matched[0]].decode(path); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		default:
			t.Errorf("%s: matches several decoders %v", path, matched)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen == 0 {
		t.Fatal("no configuration file found")
	}
}

func TestConfigNamesrvShippedDefaults(t *testing.T) {
	t.Setenv("HOME", "/home/skiff-test")
	def := namesrv.DefaultConfig()
	got := namesrv.DefaultConfig()
	got.ListenPort = -1
	if err := config.Load("namesrv.toml", &got); err != nil {
		t.Fatal(err)
	}
	got.KvConfigPath = filepath.Clean(os.ExpandEnv(replaceTilde(got.KvConfigPath)))
	// The quick start binds this machine only; the built-in default (no file) is every interface.
	if got.BindAddress != "127.0.0.1" || def.BindAddress != "0.0.0.0" {
		t.Fatalf("conf/namesrv.toml bindAddress = %q (want 127.0.0.1), default %q (want 0.0.0.0)", got.BindAddress, def.BindAddress)
	}
	if got.ListenPort != def.ListenPort || got.KvConfigPath != def.KvConfigPath ||
		got.OrderMessageEnable != def.OrderMessageEnable || got.ScanNotActiveBrokerInterval != def.ScanNotActiveBrokerInterval ||
		got.BrokerChannelExpiredTime != def.BrokerChannelExpiredTime || got.ServerWorkerThreads != def.ServerWorkerThreads ||
		got.LogLevel != def.LogLevel {
		t.Fatalf("conf/namesrv.toml differs from DefaultConfig:\n file %+v\n dflt %+v", got, def)
	}
}

func replaceTilde(p string) string {
	if len(p) >= 2 && p[:2] == "~/" {
		return "$HOME/" + p[2:]
	}
	return p
}

// TestConfigQuickStartBindsLoopback decodes the name-server configuration that
// scripts/quickstart.sh writes (the heredoc between "cat > data/namesrv.toml <<TOML" and "TOML")
// and checks that the quick start's name server and its dashboard listen on 127.0.0.1 only, as
// conf/namesrv.toml and conf/broker.toml do (the broker's side is TestConfigBrokerShippedDefaults'
// file, which the script passes unchanged).
func TestConfigQuickStartBindsLoopback(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "scripts", "quickstart.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)cat > data/namesrv\.toml <<TOML\n(.*?)\nTOML\n`).FindSubmatch(script)
	if m == nil {
		t.Fatal("scripts/quickstart.sh no longer writes data/namesrv.toml with a <<TOML heredoc; update this test")
	}
	body := regexp.MustCompile(`\$\{SKIFF_DASHBOARD_PORT:-(\d+)\}`).ReplaceAll(m[1], []byte("$1"))
	path := filepath.Join(t.TempDir(), "namesrv.toml")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := namesrv.DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		t.Fatalf("the quick start's namesrv.toml: %v\n%s", err, body)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the quick start's namesrv.toml: %v\n%s", err, body)
	}
	if cfg.BindAddress != "127.0.0.1" || cfg.HTTPBindAddress != "127.0.0.1" || cfg.HTTPPort == 0 {
		t.Fatalf("the quick start's name server binds %q, its dashboard %q:%d (want 127.0.0.1 for both, dashboard on)\n%s",
			cfg.BindAddress, cfg.HTTPBindAddress, cfg.HTTPPort, body)
	}
}
