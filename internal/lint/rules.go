package lint

// Module is the main module's path; compat is its own module below it.
const Module = "github.com/skiffmq/skiff"

// Rule says what the packages matching Pkg may import.
//
// Patterns, here and in the lists: "broker" is exactly the package github.com/skiffmq/skiff/broker;
// "broker/..." is broker and every package below it. Nothing else matches: "internal/remoting"
// does not allow internal/remoting/server. Third-party entries are module paths and match the
// module and its packages ("github.com/urfave/cli/v2" allows github.com/urfave/cli/v2/...).
//
// A package's own subtree is not implied: list it when a tree may import itself (Imports of
// "broker/..." includes "broker/...").
type Rule struct {
	Pkg         string   // package pattern the rule applies to
	Imports     []string // Skiff packages its non-test files may import
	TestImports []string // additionally allowed in its _test.go files (internal/testutil is always allowed there)
	ThirdParty  []string // modules its non-test files may import
	TestThird   []string // modules additionally allowed in its tests
	Why         string   // the reason for anything surprising, shown when a rule is broken
}

// Groups of packages used in several rules.
var (
	// wire is what speaks the RocketMQ remoting protocol: the codec, the typed headers and shared
	// bodies, the message layout, and the client side of the transport.
	wire = []string{"internal/remoting", "internal/protocol", "internal/message", "internal/remoting/rpc"}
	// publicClient is the SDK a user imports.
	publicClient = []string{"client", "client/producer", "client/consumer", "client/admin"}
	// daemonKit is what both daemons are built from (never testutil).
	daemonKit = []string{
		"internal/remoting", "internal/protocol", "internal/message", "internal/remoting/rpc", "internal/remoting/server",
		"internal/config", "internal/daemon", "internal/httpapi", "internal/metrics",
		"internal/atomicfile", "internal/acl", "internal/auth", "internal/security", "internal/controlapi", "dashboard/...",
	}
)

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Rules is the dependency rule of docs/architecture.md. Every package of both modules must match
// exactly one rule (the first that matches wins, so list a narrower pattern before a wider one);
// a package no rule matches fails the lint, so a new package comes with its rule.
var Rules = []Rule{
	// Pure protocol and message code: the standard library only (the codec may use the typed
	// headers and codes of internal/protocol, which imports nothing of Skiff).
	{Pkg: "internal/protocol/...", Imports: []string{"internal/protocol/..."}},
	{Pkg: "internal/remoting", Imports: []string{"internal/protocol"}},
	{Pkg: "internal/message", Imports: nil},
	{Pkg: "internal/remoting/rpc", Imports: []string{"internal/remoting", "internal/protocol"}},
	{Pkg: "internal/remoting/server/...", Imports: []string{"internal/remoting", "internal/protocol", "internal/remoting/server/..."},
		ThirdParty: []string{"github.com/panjf2000/gnet/v2"}, TestImports: []string{"internal/remoting/rpc"}},

	// Daemon building blocks, each owning one library.
	{Pkg: "internal/config", Imports: []string{"internal/protocol"}, ThirdParty: []string{"github.com/BurntSushi/toml"}},
	{Pkg: "internal/daemon", ThirdParty: []string{"golang.org/x/sys"}},
	{Pkg: "internal/httpapi", Imports: []string{"internal/metrics"}, ThirdParty: []string{"github.com/valyala/fasthttp"}},
	{Pkg: "internal/metrics", ThirdParty: []string{"github.com/VictoriaMetrics/metrics"}},
	{Pkg: "internal/atomicfile", ThirdParty: []string{"golang.org/x/sys"}},
	{Pkg: "internal/acl/...", Imports: []string{"internal/acl/...", "internal/auth", "internal/remoting", "internal/protocol", "internal/atomicfile", "internal/config"},
		ThirdParty: []string{"gopkg.in/yaml.v3"}, Why: "plain_acl.yml is YAML"},
	{Pkg: "internal/security", Imports: []string{"internal/acl", "internal/auth", "internal/metrics", "internal/remoting", "internal/protocol"},
		Why: "connects the ACL and node authentication to the daemons"},
	{Pkg: "internal/auth/...", Imports: []string{"internal/auth/...", "internal/remoting", "internal/protocol"}},
	{Pkg: "internal/controlapi", Imports: []string{"internal/remoting", "internal/protocol"}},
	{Pkg: "internal/testutil", Imports: concat(wire), Why: "test helpers; only _test.go files may import testutil"},
	{Pkg: "internal/lint"},

	// The store: its own tree, the message layout, mmap and x/sys; no networking.
	{Pkg: "commitlog/...", Imports: []string{"commitlog/...", "internal/message", "internal/atomicfile"},
		ThirdParty: []string{"github.com/edsrzf/mmap-go", "golang.org/x/sys"}},

	// The daemons. broker and namesrv never import each other; broker sees only the commitlog facade.
	{Pkg: "namesrv/...", Imports: concat([]string{"namesrv/..."}, daemonKit),
		ThirdParty: []string{"github.com/hashicorp/raft", "github.com/hashicorp/raft-boltdb/v2"}},
	{Pkg: "broker/...", Imports: concat([]string{"broker/...", "commitlog"}, daemonKit),
		ThirdParty: []string{"golang.org/x/sys"}, TestImports: []string{"commitlog/vfs"},
		Why: "broker tests inject store faults through commitlog/vfs"},
	{Pkg: "dashboard/...", Imports: []string{"dashboard/...", "internal/httpapi", "internal/metrics", "internal/remoting", "internal/protocol", "internal/message", "client", "client/admin"},
		ThirdParty: []string{"github.com/valyala/fasthttp"},
		TestThird:  []string{"github.com/chromedp/chromedp", "github.com/chromedp/cdproto"},
		Why:        "the dashboard reads the cluster through the admin client and serves pages as fasthttp handlers that httpapi mounts"},

	// The SDK: public packages over the shared core; never a server package.
	{Pkg: "client", Imports: []string{"internal/remoting", "internal/protocol", "internal/message", "internal/auth"},
		Why: "internal/auth for the ACL request signature of client.Credentials"},
	{Pkg: "client/internal/core", Imports: concat([]string{"client"}, wire)},
	{Pkg: "client/producer", Imports: concat([]string{"client", "client/internal/core"}, []string{"internal/remoting", "internal/protocol", "internal/message"})},
	{Pkg: "client/consumer", Imports: concat([]string{"client", "client/internal/core"}, []string{"internal/remoting", "internal/protocol", "internal/message", "internal/atomicfile"}),
		Why: "the local offsets file is written with the one atomic-write helper"},
	{Pkg: "client/admin", Imports: concat([]string{"client", "client/internal/core"}, []string{"internal/remoting", "internal/protocol", "internal/message"})},
	{Pkg: "client/examples/...", Imports: concat(publicClient, []string{"client/examples/internal/example"}),
		ThirdParty: []string{"github.com/urfave/cli/v2"}, Why: "examples show the public SDK only"},

	// Mains: flags and config, one server or app, exit codes.
	{Pkg: "cmd/mqbroker", Imports: []string{"broker/...", "internal/config", "internal/daemon", "dashboard/...", "client", "client/admin"},
		ThirdParty: []string{"github.com/urfave/cli/v2", "github.com/BurntSushi/toml"},
		Why:        "client/admin: the main builds the dashboard's admin client (broker/ itself never imports client/)"},
	{Pkg: "cmd/mqnamesrv", Imports: []string{"namesrv/...", "internal/config", "internal/daemon", "dashboard/...", "client", "client/admin"},
		ThirdParty: []string{"github.com/urfave/cli/v2", "github.com/BurntSushi/toml"}, TestImports: []string{"internal/remoting"},
		Why: "client/admin: the main builds the dashboard's admin client (namesrv/ itself never imports client/)"},
	{Pkg: "cmd/mqadmin", Imports: concat(publicClient, []string{"internal/message", "internal/protocol", "internal/config", "internal/security"}),
		ThirdParty: []string{"github.com/urfave/cli/v2"}, TestImports: []string{"internal/remoting"}},
	{Pkg: "cmd/mqbench", Imports: concat(publicClient, []string{"internal/message", "internal/remoting/server/..."}),
		ThirdParty: []string{"github.com/urfave/cli/v2"}, Why: "internal/remoting/server/... for the fixed-answer baseline server of the end-to-end bench"},

	// conf holds only the shipped configs and a test that parses each.
	{Pkg: "conf", TestImports: []string{"broker", "namesrv", "internal/config", "internal/acl", "internal/security"}},

	// Black-box tests: the built binaries (through testutil's launcher), the public SDK, and the
	// wire protocol that any RocketMQ client speaks (raw frames, bad input); no server package.
	{Pkg: "itest", TestImports: concat(publicClient, wire, []string{"internal/auth"}),
		TestThird: []string{"github.com/chromedp/chromedp", "github.com/chromedp/cdproto"},
		Why:       "itest drives the real binaries through the public SDK or the wire protocol (internal/auth: the HA handshake bytes of the security tests), and the dashboard through headless Chromium"},
	{Pkg: "compat/...", Imports: concat(publicClient, []string{"internal/remoting"}), TestImports: concat(publicClient, wire),
		ThirdParty: []string{"github.com/apache/rocketmq-client-go/v2", "github.com/urfave/cli/v2"},
		TestThird:  []string{"github.com/apache/rocketmq-client-go/v2"},
		Why:        "compat runs the official client and the public SDK against the real binaries"},
}
