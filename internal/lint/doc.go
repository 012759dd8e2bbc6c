// Package lint holds repository-wide checks run as tests. TestImportRules enforces the dependency
// rule of docs/architecture.md over both modules (the main one and compat/), test files included:
// the rules are the table in rules.go, one entry per package pattern, and a package no rule
// covers fails the check, so a new package arrives with its rule. `make lint` runs it.
package lint
