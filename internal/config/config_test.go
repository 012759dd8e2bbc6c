package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type sample struct {
	ListenPort int    `toml:"listenPort"`
	Name       string `toml:"name"`
	Enabled    bool   `toml:"enabled"`
}

func (s *sample) Validate() error {
	if s.ListenPort < 0 || s.ListenPort > 65535 {
		return fmt.Errorf("listenPort = %d: out of range 0..65535", s.ListenPort)
	}
	return nil
}

type plain struct {
	A int `toml:"a"`
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigLoadKeepsDefaultsAndOverrides(t *testing.T) {
	p := writeFile(t, "# comment\nlistenPort = 1234\n")
	s := sample{ListenPort: 9876, Name: "dflt", Enabled: true}
	if err := Load(p, &s); err != nil {
		t.Fatal(err)
	}
	if s.ListenPort != 1234 || s.Name != "dflt" || !s.Enabled {
		t.Fatalf("got %+v", s)
	}
}

func TestConfigLoadRefusesUnknownKey(t *testing.T) {
	p := writeFile(t, "listenPort = 1\nlistenPrt = 2\n")
	var s sample
	err := Load(p, &s)
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("want ErrUnknownKey, got %v", err)
	}
	if !strings.Contains(err.Error(), "listenPrt") || !strings.Contains(err.Error(), p) {
		t.Fatalf("error should name key and file: %v", err)
	}
}

func TestConfigLoadRefusesUnknownTable(t *testing.T) {
	p := writeFile(t, "a = 1\n[extra]\nb = 2\n")
	var s plain
	err := Load(p, &s)
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "extra") {
		t.Fatalf("got %v", err)
	}
}

func TestConfigLoadBadTypeNamesKey(t *testing.T) {
	p := writeFile(t, "listenPort = \"abc\"\n")
	var s sample
	err := Load(p, &s)
	if err == nil || !strings.Contains(err.Error(), "listenPort") || !strings.Contains(err.Error(), p) {
		t.Fatalf("error should name key and file: %v", err)
	}
}

func TestConfigLoadCallsValidate(t *testing.T) {
	p := writeFile(t, "listenPort = 70000\n")
	var s sample
	err := Load(p, &s)
	if err == nil || !strings.Contains(err.Error(), "listenPort") || !strings.Contains(err.Error(), p) {
		t.Fatalf("validate error should be returned with file name: %v", err)
	}
}

func TestConfigLoadMissingFile(t *testing.T) {
	var s plain
	p := filepath.Join(t.TempDir(), "nope.toml")
	err := Load(p, &s)
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), p) {
		t.Fatalf("got %v", err)
	}
}

func TestConfigLoadSyntaxError(t *testing.T) {
	p := writeFile(t, "a = = 1\n")
	var s plain
	if err := Load(p, &s); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("got %v", err)
	}
}

func TestConfigDecode(t *testing.T) {
	var s plain
	if err := Decode("inline", "a = 7", &s); err != nil || s.A != 7 {
		t.Fatalf("got %v %+v", err, s)
	}
	err := Decode("inline", "b = 7", &s)
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "inline") || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("got %v", err)
	}
}

func TestConfigParseAddrList(t *testing.T) {
	cases := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"", nil, ""},
		{"  ", nil, ""},
		{"127.0.0.1:9876", []string{"127.0.0.1:9876"}, ""},
		{" 127.0.0.1:9876 ; 10.0.0.2:9877;", []string{"127.0.0.1:9876", "10.0.0.2:9877"}, ""},
		{";;a.example:1;;", []string{"a.example:1"}, ""},
		{"[::1]:9876", []string{"[::1]:9876"}, ""},
		{"127.0.0.1", nil, "127.0.0.1"},
		{"127.0.0.1:9876;host:abc", nil, "host:abc"},
		{"127.0.0.1:0", nil, "127.0.0.1:0"},
		{"127.0.0.1:65536", nil, "127.0.0.1:65536"},
		{":9876", nil, ":9876"},
		{"a,b:1", nil, "a,b:1"},
	}
	for _, c := range cases {
		got, err := ParseAddrList(c.in)
		if c.wantErr != "" {
			if !errors.Is(err, ErrBadAddr) || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: want error naming %q, got %v", c.in, c.wantErr, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("%q: got %q want %q", c.in, got, c.want)
		}
	}
}

func FuzzConfigParseAddrList(f *testing.F) {
	for _, s := range []string{"", "127.0.0.1:9876", "a:1;b:2", "[::1]:1", ";;", "x:y", "1.2.3.4:99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addrs, err := ParseAddrList(s)
		if err != nil {
			return
		}
		for _, a := range addrs {
			if a == "" || strings.TrimSpace(a) != a || strings.Contains(a, ";") {
				t.Fatalf("bad entry %q from %q", a, s)
			}
			again, err := ParseAddrList(a)
			if err != nil || len(again) != 1 || again[0] != a {
				t.Fatalf("entry %q does not reparse: %v %q", a, err, again)
			}
		}
	})
}

func FuzzConfigDecode(f *testing.F) {
	for _, s := range []string{"listenPort = 1", "name = \"x\"\nenabled = true", "[t]\na=1", "x ="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v sample
		_ = Decode("fuzz", s, &v)
	})
}
