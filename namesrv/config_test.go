package namesrv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNamesrvConfigDefaults(t *testing.T) {
	c := DefaultConfig()
	if c.ListenPort != 9876 || c.BindAddress != "0.0.0.0" || c.OrderMessageEnable ||
		c.ScanNotActiveBrokerInterval != 10000 || c.BrokerChannelExpiredTime != 120000 || c.LogLevel != "info" ||
		!strings.HasSuffix(c.KvConfigPath, filepath.Join("namesrv", "kvConfig.json")) {
		t.Fatalf("defaults %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestNamesrvConfigLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "namesrv.toml")
	text := "listenPort = 19876\nkvConfigPath = \"" + filepath.Join(dir, "kv.json") + "\"\norderMessageEnable = true\nlogLevel = \"debug\"\n"
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenPort != 19876 || !c.OrderMessageEnable || c.LogLevel != "debug" || c.BrokerChannelExpiredTime != 120000 {
		t.Fatalf("%+v", c)
	}
	if c.LogFile() != filepath.Join(dir, "logs", "namesrv.log") {
		t.Fatalf("log file %s", c.LogFile())
	}
}

func TestNamesrvConfigRefusesBadKeysAndValues(t *testing.T) {
	cases := map[string]string{
		"listenPrt = 1\n":                   "listenPrt",
		"listenPort = 70000\n":              "listenPort = 70000",
		"listenPort = \"x\"\n":              "listenPort",
		"scanNotActiveBrokerInterval = 0\n": "scanNotActiveBrokerInterval = 0",
		"brokerChannelExpiredTime = -5\n":   "brokerChannelExpiredTime = -5",
		"logLevel = \"loud\"\n":             `logLevel = "loud"`,
		"bindAddress = \"1.2.3.4:5\"\n":     `bindAddress = "1.2.3.4:5"`,
		"kvConfigPath = \"\"\n":             "kvConfigPath",
		"serverWorkerThreads = 0\n":         "serverWorkerThreads = 0",
	}
	for text, want := range cases {
		p := filepath.Join(t.TempDir(), "namesrv.toml")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadConfig(p)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: want error naming %q and the file, got %v", text, want, err)
		}
	}
}

func TestNamesrvConfigExpandHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	p := filepath.Join(t.TempDir(), "n.toml")
	if err := os.WriteFile(p, []byte("kvConfigPath = \"~/ns/kv.json\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.KvConfigPath != filepath.Join(home, "ns", "kv.json") {
		t.Fatalf("got %s", c.KvConfigPath)
	}
}

func TestNamesrvKVStorePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "kvConfig.json")
	s, err := openKVStore(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.put(NamespaceOrderTopicConfig, "T", "broker-a:4"); err != nil {
		t.Fatal(err)
	}
	if err := s.put("ns2", "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := s.put("ns2", "gone", "x"); err != nil {
		t.Fatal(err)
	}
	if err := s.delete("ns2", "gone"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"configTable":{"ORDER_TOPIC_CONFIG":{"T":"broker-a:4"},"ns2":{"k":"v"}}}`; string(b) != want {
		t.Fatalf("file %s, want %s", b, want)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
	s2, err := openKVStore(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := s2.get(NamespaceOrderTopicConfig, "T"); !ok || v != "broker-a:4" {
		t.Fatalf("reloaded %q %v", v, ok)
	}
	if _, ok := s2.get("ns2", "gone"); ok {
		t.Fatal("deleted key reloaded")
	}
	if m := s2.list("ns2"); len(m) != 1 || m["k"] != "v" {
		t.Fatalf("list %v", m)
	}
	if m := s2.list("none"); m != nil {
		t.Fatalf("list of unknown namespace %v", m)
	}
}

func TestNamesrvKVStoreCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openKVStore(path, nil); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v", err)
	}
}
