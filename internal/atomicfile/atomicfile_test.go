package atomicfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func decodeInto(v *map[string]int) func([]byte) error {
	return func(b []byte) error {
		var fresh map[string]int
		if err := json.Unmarshal(b, &fresh); err != nil {
			return err
		}
		*v = fresh
		return nil
	}
}

func TestAtomicFileWriteKeepsBackupAndLoads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "state.json")
	var v map[string]int
	if err := Load(path, decodeInto(&v), nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("load of nothing: %v", err)
	}
	for i, content := range []string{`{"a":1}`, `{"a":2}`} {
		if err := Write(path, []byte(content), 0o644); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if b, _ := os.ReadFile(path + ".bak"); string(b) != `{"a":1}` {
		t.Fatalf("backup holds %q, want the previous content", b)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatal("temporary file left behind")
	}
	if err := Load(path, decodeInto(&v), nil); err != nil || v["a"] != 2 {
		t.Fatalf("load: %v %v", v, err)
	}
}

func TestAtomicFileDamagedFileFallsBackToBackupWithWarning(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	_ = Write(path, []byte(`{"a":1}`), 0o644)
	_ = Write(path, []byte(`{"a":2}`), 0o644)
	for name, damage := range map[string]func(){
		"torn":  func() { os.WriteFile(path, []byte(`{"a":`), 0o644) },
		"empty": func() { os.WriteFile(path, nil, 0o644) },
		// A crash between the two renames: the file is missing, its backup and the finished
		// temporary file are there.
		"between renames": func() { os.Rename(path, path+".tmp") },
	} {
		damage()
		var logs bytes.Buffer
		var v map[string]int
		if err := Load(path, decodeInto(&v), slog.New(slog.NewTextHandler(&logs, nil))); err != nil || v["a"] != 1 {
			t.Fatalf("%s: load = %v %v, want the backup's content", name, v, err)
		}
		if !strings.Contains(logs.String(), "backup") || !strings.Contains(logs.String(), path) {
			t.Fatalf("%s: no warning naming the file: %q", name, logs.String())
		}
	}
	os.WriteFile(path, []byte(`{"a":`), 0o644)
	os.WriteFile(path+".bak", []byte(`]`), 0o644)
	var v map[string]int
	if err := Load(path, decodeInto(&v), nil); err == nil || !strings.Contains(err.Error(), path) || errors.Is(err, ErrNotFound) {
		t.Fatalf("both damaged: %v, want an error naming %s", err, path)
	}
	if v != nil {
		t.Fatal("a failed decode leaked state")
	}
}

// FuzzAtomicFileLoad: arbitrary bytes in the file and in its backup never panic, and what loads
// is the content of one of them.
func FuzzAtomicFileLoad(f *testing.F) {
	f.Add([]byte(`{"a":1}`), []byte(`{"a":2}`))
	f.Add([]byte(`{"a":`), []byte(`{"b":3}`))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, main, bak []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "state.json")
		os.WriteFile(path, main, 0o644)
		os.WriteFile(path+".bak", bak, 0o644)
		var v map[string]int
		if err := Load(path, decodeInto(&v), nil); err != nil {
			return
		}
		var m, b map[string]int
		okMain := json.Unmarshal(main, &m) == nil && len(main) > 0
		okBak := json.Unmarshal(bak, &b) == nil && len(bak) > 0
		got, _ := json.Marshal(v)
		wantM, _ := json.Marshal(m)
		wantB, _ := json.Marshal(b)
		if !(okMain && bytes.Equal(got, wantM)) && !(!okMain && okBak && bytes.Equal(got, wantB)) {
			t.Fatalf("loaded %s from main %q / backup %q", got, main, bak)
		}
	})
}
