package lint

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/skiffmq/skiff"

// rules: for each package prefix, the Skiff packages it may import (besides its own subtree).
// Third-party modules are checked separately in thirdParty.
var rules = []struct {
	prefix  string
	allowed []string
}{
	{mod + "/internal/remoting/server", []string{mod + "/internal/remoting"}},
	{mod + "/internal/remoting/rpc", []string{mod + "/internal/remoting"}},
	{mod + "/internal/remoting", nil},
	{mod + "/internal/message", nil},
	{mod + "/commitlog", []string{mod + "/internal/message"}},
	{mod + "/namesrv", []string{mod + "/internal/"}},
	{mod + "/broker", []string{mod + "/commitlog", mod + "/internal/"}},
	{mod + "/client", []string{mod + "/internal/remoting", mod + "/internal/message"}},
}

// thirdParty: packages that may use a third-party module (prefix → allowed module prefixes).
var thirdParty = map[string][]string{
	mod + "/internal/remoting/server": {"github.com/panjf2000/gnet"},
	mod + "/internal/httpapi":         {"github.com/valyala/fasthttp"},
	mod + "/internal/metrics":         {"github.com/VictoriaMetrics/metrics"},
	mod + "/internal/config":          {"github.com/BurntSushi/toml"},
	mod + "/internal/daemon":          {"golang.org/x/sys"},
	mod + "/commitlog":                {"github.com/edsrzf/mmap-go", "golang.org/x/sys"},
	mod + "/broker":                   {"golang.org/x/sys"},
	mod + "/cmd/":                     {"github.com/urfave/cli/v2", "github.com/BurntSushi/toml"},
	mod + "/client/examples/":         {"github.com/urfave/cli/v2"},
	mod + "/conf":                     {"github.com/BurntSushi/toml"},
}

func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}", mod+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imps, _ := strings.Cut(line, "|")
		for _, imp := range strings.Fields(imps) {
			if strings.HasPrefix(imp, mod) {
				checkSkiff(t, pkg, imp)
			} else if strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
				checkThirdParty(t, pkg, imp)
			}
		}
	}
}

func checkSkiff(t *testing.T, pkg, imp string) {
	if imp == pkg || strings.HasPrefix(imp, pkg+"/") {
		return
	}
	for _, r := range rules {
		if pkg != r.prefix && !strings.HasPrefix(pkg, r.prefix+"/") {
			continue
		}
		if strings.HasPrefix(imp, r.prefix+"/") || imp == r.prefix {
			return // inside its own subtree
		}
		for _, a := range r.allowed {
			if imp == a || strings.HasPrefix(imp, strings.TrimSuffix(a, "/")+"/") || (strings.HasSuffix(a, "/") && strings.HasPrefix(imp, a)) {
				return
			}
		}
		t.Errorf("%s imports %s, which the import rules forbid (docs/architecture.md)", pkg, imp)
		return
	}
}

func checkThirdParty(t *testing.T, pkg, imp string) {
	if strings.HasPrefix(imp, "golang.org/x/") && !strings.HasPrefix(imp, "golang.org/x/sys") {
		t.Errorf("%s imports %s", pkg, imp)
		return
	}
	for prefix, mods := range thirdParty {
		if pkg == prefix || strings.HasPrefix(pkg, prefix) {
			for _, m := range mods {
				if strings.HasPrefix(imp, m) {
					return
				}
			}
		}
	}
	t.Errorf("%s imports the third-party package %s; only its owning package may (internal/lint/imports_test.go)", pkg, imp)
}
