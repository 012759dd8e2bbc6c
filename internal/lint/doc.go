// Package lint holds repository-wide checks run as tests: the import rules of docs/architecture.md.
package lint
