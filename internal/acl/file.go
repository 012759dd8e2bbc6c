package acl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/skiffmq/skiff/internal/auth"
)

// RetryGroupPrefix is RocketMQ's retry-topic prefix; a group's ACL resource is prefix + group.
const RetryGroupPrefix = "%RETRY%"

// fileAccount is one entry of plain_acl.yml's accounts.
type fileAccount struct {
	AccessKey          string   `yaml:"accessKey"`
	SecretKey          string   `yaml:"secretKey"`
	WhiteRemoteAddress string   `yaml:"whiteRemoteAddress"`
	Admin              bool     `yaml:"admin"`
	DefaultTopicPerm   string   `yaml:"defaultTopicPerm"`
	DefaultGroupPerm   string   `yaml:"defaultGroupPerm"`
	TopicPerms         []string `yaml:"topicPerms"`
	GroupPerms         []string `yaml:"groupPerms"`
}

// file is plain_acl.yml. dataVersion is written by RocketMQ 4.9's updateAclConfig and ignored.
type file struct {
	GlobalWhiteRemoteAddresses []string      `yaml:"globalWhiteRemoteAddresses"`
	Accounts                   []fileAccount `yaml:"accounts"`
	DataVersion                yaml.Node     `yaml:"dataVersion"`
}

// account is a compiled account.
type account struct {
	accessKey  string
	secret     []byte // for CheckAdmin (HTTP Basic credentials); request signatures use key
	key        *auth.ACLKey
	white      matcher
	admin      bool
	defTopic   Perm
	defGroup   Perm
	perms      map[string]Perm // topic, or "%RETRY%"+group
	hasEntries bool
}

// Table is a compiled plain_acl.yml. It is immutable and safe for concurrent use.
type Table struct {
	global   []matcher
	accounts map[string]*account
}

// MaxFileSize bounds plain_acl.yml (1 MiB).
const MaxFileSize = 1 << 20

// Parse compiles the content of a plain_acl.yml. Unknown keys, bad permissions, bad address
// patterns, accounts without accessKey or secretKey and duplicate access keys are errors that name
// the offending entry (never a secret).
func Parse(data []byte) (*Table, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("acl: file of %d bytes is larger than %d", len(data), MaxFileSize)
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("acl: %w", err)
	}
	t := &Table{accounts: map[string]*account{}}
	for i, p := range f.GlobalWhiteRemoteAddresses {
		m, err := parsePattern(p)
		if err != nil {
			return nil, fmt.Errorf("acl: globalWhiteRemoteAddresses[%d]: %w", i, err)
		}
		t.global = append(t.global, m)
	}
	for i, fa := range f.Accounts {
		where := fmt.Sprintf("acl: accounts[%d]", i)
		if strings.TrimSpace(fa.AccessKey) == "" {
			return nil, fmt.Errorf("%s: accessKey is empty", where)
		}
		where = fmt.Sprintf("acl: accounts[%d] (accessKey %s)", i, fa.AccessKey)
		if fa.SecretKey == "" {
			return nil, fmt.Errorf("%s: secretKey is empty", where)
		}
		if _, dup := t.accounts[fa.AccessKey]; dup {
			return nil, fmt.Errorf("%s: accessKey appears twice", where)
		}
		a := &account{accessKey: fa.AccessKey, secret: []byte(fa.SecretKey), key: auth.NewACLKey(fa.SecretKey), admin: fa.Admin,
			defTopic: Deny, defGroup: Deny, perms: map[string]Perm{}}
		var err error
		if a.white, err = parsePattern(fa.WhiteRemoteAddress); err != nil {
			return nil, fmt.Errorf("%s: whiteRemoteAddress: %w", where, err)
		}
		if fa.DefaultTopicPerm != "" {
			if a.defTopic, err = ParsePerm(fa.DefaultTopicPerm); err != nil {
				return nil, fmt.Errorf("%s: defaultTopicPerm: %w", where, err)
			}
		}
		if fa.DefaultGroupPerm != "" {
			if a.defGroup, err = ParsePerm(fa.DefaultGroupPerm); err != nil {
				return nil, fmt.Errorf("%s: defaultGroupPerm: %w", where, err)
			}
		}
		for _, spec := range fa.TopicPerms {
			if err := a.addPerm(spec, ""); err != nil {
				return nil, fmt.Errorf("%s: topicPerms: %w", where, err)
			}
		}
		for _, spec := range fa.GroupPerms {
			if err := a.addPerm(spec, RetryGroupPrefix); err != nil {
				return nil, fmt.Errorf("%s: groupPerms: %w", where, err)
			}
		}
		a.hasEntries = len(a.perms) > 0
		t.accounts[a.accessKey] = a
	}
	return t, nil
}

func (a *account) addPerm(spec, prefix string) error {
	name, perm, ok := strings.Cut(spec, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.Contains(perm, "=") {
		return fmt.Errorf("entry %q: want name=PERM", spec)
	}
	p, err := ParsePerm(perm)
	if err != nil {
		return fmt.Errorf("entry %q: %w", spec, err)
	}
	a.perms[prefix+name] = p
	return nil
}

// Accounts returns the number of accounts.
func (t *Table) Accounts() int { return len(t.accounts) }
