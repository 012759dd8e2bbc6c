package lint

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pkgInfo is what go list says about one package.
type pkgInfo struct {
	Path        string   // relative to Module: "broker", "compat/cmd/x"; "" for the module root
	Imports     []string // full import paths of the non-test files
	TestImports []string // of the _test.go files, internal and external test packages
}

// listPackages runs go list in dir (a module root) for every package of that module.
func listPackages(t *testing.T, dir string) []pkgInfo {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-f",
		`{{.ImportPath}}|{{join .Imports " "}}|{{join .TestImports " "}} {{join .XTestImports " "}}|{{if .Error}}{{.Error}}{{end}}`, "./...")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list in %s: %v\n%s", dir, err, out)
	}
	var pkgs []pkgInfo
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, "|", 4)
		if len(f) != 4 {
			t.Fatalf("go list in %s: unexpected line %q", dir, line)
		}
		if f[3] != "" {
			t.Fatalf("go list in %s: %s: %s", dir, f[0], f[3])
		}
		rel, ok := relPath(f[0])
		if !ok {
			t.Fatalf("go list in %s: %s is outside %s", dir, f[0], Module)
		}
		pkgs = append(pkgs, pkgInfo{Path: rel, Imports: strings.Fields(f[1]), TestImports: strings.Fields(f[2])})
	}
	return pkgs
}

// relPath returns p relative to Module; false when p is not a Skiff package.
func relPath(p string) (string, bool) {
	if p == Module {
		return "", true
	}
	rel, ok := strings.CutPrefix(p, Module+"/")
	return rel, ok
}

// match reports whether pattern ("x" exactly, or "x/..." for x and below) matches rel.
func match(pattern, rel string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == base || strings.HasPrefix(rel, base+"/")
	}
	return rel == pattern
}

// matchModule reports whether imp is module mod or one of its packages.
func matchModule(mod, imp string) bool { return imp == mod || strings.HasPrefix(imp, mod+"/") }

// isStd reports whether imp is a standard-library package (no dot in its first element).
func isStd(imp string) bool { return !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") }

// ruleFor returns the first rule matching rel.
func ruleFor(rules []Rule, rel string) (Rule, bool) {
	for _, r := range rules {
		if match(r.Pkg, rel) {
			return r, true
		}
	}
	return Rule{}, false
}

// violations returns every import of pkgs that rules forbid, and every package no rule covers.
func violations(rules []Rule, pkgs []pkgInfo) []string {
	var out []string
	for _, p := range pkgs {
		r, ok := ruleFor(rules, p.Path)
		if !ok {
			out = append(out, fmt.Sprintf("%s: no import rule covers this package; add one to internal/lint/rules.go", p.Path))
			continue
		}
		why := ""
		if r.Why != "" {
			why = " (" + r.Why + ")"
		}
		check := func(imps []string, skiff, third []string, test bool) {
			kind := "imports"
			if test {
				kind = "imports in a test"
			}
			for _, imp := range imps {
				if isStd(imp) || imp == "C" {
					continue
				}
				if rel, ok := relPath(imp); ok {
					if rel == p.Path {
						continue // the external test package imports the package it tests
					}
					if !test && rel == "internal/testutil" {
						out = append(out, fmt.Sprintf("%s imports internal/testutil outside a _test.go file; test helpers never reach production code", p.Path))
						continue
					}
					if !slices.ContainsFunc(skiff, func(pat string) bool { return match(pat, rel) }) {
						out = append(out, fmt.Sprintf("%s %s %s, which rule %q does not allow%s", p.Path, kind, rel, r.Pkg, why))
					}
					continue
				}
				if !slices.ContainsFunc(third, func(mod string) bool { return matchModule(mod, imp) }) {
					out = append(out, fmt.Sprintf("%s %s the third-party package %s, which rule %q does not allow%s", p.Path, kind, imp, r.Pkg, why))
				}
			}
		}
		check(p.Imports, r.Imports, r.ThirdParty, false)
		check(p.TestImports, concat(r.Imports, r.TestImports, []string{"internal/testutil"}), concat(r.ThirdParty, r.TestThird), true)
	}
	return out
}

// TestImportRules checks every package of the main module and of compat/ against Rules,
// test files included.
func TestImportRules(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := listPackages(t, root)
	pkgs = append(pkgs, listPackages(t, filepath.Join(root, "compat"))...)
	if len(pkgs) < 20 {
		t.Fatalf("go list found only %d packages; the lint would check nothing", len(pkgs))
	}
	t.Logf("checked %d packages", len(pkgs))
	for _, v := range violations(Rules, pkgs) {
		t.Error(v)
	}
}

// TestImportRulesCatchViolations feeds the checker imports the rules forbid, so a checker that
// lets everything through fails here.
func TestImportRulesCatchViolations(t *testing.T) {
	full := func(rel string) string { return Module + "/" + rel }
	cases := []struct {
		name string
		pkg  pkgInfo
		want string // substring of the one violation expected; "" for none
	}{
		{"client may import internal/remoting", pkgInfo{Path: "client", Imports: []string{full("internal/remoting")}}, ""},
		{"exact match, not prefix: client must not reach remoting/server", pkgInfo{Path: "client", Imports: []string{full("internal/remoting/server")}}, "client imports internal/remoting/server"},
		{"broker must not import namesrv", pkgInfo{Path: "broker", Imports: []string{full("namesrv")}}, "broker imports namesrv"},
		{"broker sees only the commitlog facade", pkgInfo{Path: "broker/processor", Imports: []string{full("commitlog/segment")}}, "imports commitlog/segment"},
		{"production code never imports testutil", pkgInfo{Path: "broker", Imports: []string{full("internal/testutil")}}, "outside a _test.go file"},
		{"tests may import testutil", pkgInfo{Path: "broker", TestImports: []string{full("internal/testutil")}}, ""},
		{"itest uses no server package", pkgInfo{Path: "itest", TestImports: []string{full("broker")}}, "itest imports in a test broker"},
		{"itest may use the SDK", pkgInfo{Path: "itest", TestImports: []string{full("client/producer")}}, ""},
		{"itest must not use the SDK's internals", pkgInfo{Path: "itest", TestImports: []string{full("client/internal/core")}}, "client/internal/core"},
		{"compat must not import the broker", pkgInfo{Path: "compat", TestImports: []string{full("broker")}}, "compat imports in a test broker"},
		{"cmd/mqadmin is built on client/admin", pkgInfo{Path: "cmd/mqadmin", Imports: []string{full("broker")}}, "cmd/mqadmin imports broker"},
		{"third party only in its owner", pkgInfo{Path: "broker", Imports: []string{"github.com/valyala/fasthttp"}}, "third-party package github.com/valyala/fasthttp"},
		{"module match is by path element", pkgInfo{Path: "internal/config", Imports: []string{"github.com/BurntSushi/tomlx"}}, "third-party package github.com/BurntSushi/tomlx"},
		{"a package without a rule fails", pkgInfo{Path: "newthing"}, "no import rule covers"},
		{"test-only third party", pkgInfo{Path: "dashboard", TestImports: []string{"github.com/chromedp/chromedp"}}, ""},
		{"test-only third party stays out of production", pkgInfo{Path: "dashboard", Imports: []string{"github.com/chromedp/chromedp"}}, "chromedp"},
	}
	for _, c := range cases {
		got := violations(Rules, []pkgInfo{c.pkg})
		switch {
		case c.want == "" && len(got) != 0:
			t.Errorf("%s: unexpected violations %q", c.name, got)
		case c.want != "" && (len(got) != 1 || !strings.Contains(got[0], c.want)):
			t.Errorf("%s: violations %q, want one containing %q", c.name, got, c.want)
		}
	}
}
