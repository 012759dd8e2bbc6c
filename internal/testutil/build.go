package testutil

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModulePath is the main module's path; RepoRoot looks for the go.mod that declares it.
const ModulePath = "github.com/skiffmq/skiff"

// ErrNoRepoRoot is returned by RepoRoot when no parent folder holds Skiff's go.mod.
var ErrNoRepoRoot = errors.New("testutil: repository root not found")

// RepoRoot walks up from the working directory to the folder whose go.mod declares module
// github.com/skiffmq/skiff (the compat module's own go.mod is skipped).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testutil: working dir: %w", err)
	}
	for {
		if modulePath(filepath.Join(dir, "go.mod")) == ModulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w above the working directory", ErrNoRepoRoot)
		}
		dir = parent
	}
}

// modulePath returns the module path declared in the go.mod file at path, "" if none.
func modulePath(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// Binaries holds the paths of built Skiff binaries; an empty field was not built.
type Binaries struct {
	Dir     string // folder holding the binaries
	Namesrv string // mqnamesrv
	Broker  string // mqbroker
	Admin   string // mqadmin
}

// BuildBinaries builds the named commands (mqnamesrv, mqbroker, mqadmin) with CGO_ENABLED=0 into
// a new temporary folder, from the repository root. It is meant for TestMain; the caller removes
// b.Dir when done (Cleanup does it).
func BuildBinaries(names ...string) (*Binaries, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := tempDir("skiff-bin-")
	if err != nil {
		return nil, err
	}
	b := &Binaries{Dir: dir}
	for _, name := range names {
		out := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", out, "./cmd/"+name)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("testutil: go build ./cmd/%s: %w\n%s", name, err, msg)
		}
		switch name {
		case "mqnamesrv":
			b.Namesrv = out
		case "mqbroker":
			b.Broker = out
		case "mqadmin":
			b.Admin = out
		}
	}
	return b, nil
}

// Cleanup removes the folder of the binaries.
func (b *Binaries) Cleanup() {
	if b != nil && b.Dir != "" {
		_ = os.RemoveAll(b.Dir)
	}
}
