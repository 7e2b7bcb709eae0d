package security

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Broker keys about authorization.
const (
	KeyAuthorizer        = "authorizer.class.name"
	KeySuperUsers        = "super.users"
	KeyAllowIfNoACLFound = "allow.everyone.if.no.acl.found"
)

// ACL is one access control entry bound to a resource pattern, Kafka's
// model. Enum fields hold kmsg's values.
type ACL struct {
	ResourceType kmsg.ACLResourceType        `json:"resource_type"`
	ResourceName string                      `json:"resource_name"`
	PatternType  kmsg.ACLResourcePatternType `json:"pattern_type"`
	Principal    string                      `json:"principal"`
	Host         string                      `json:"host"`
	Operation    kmsg.ACLOperation           `json:"operation"`
	Permission   kmsg.ACLPermissionType      `json:"permission"`
}

// ACLFilter selects ACLs as DescribeAcls and DeleteAcls do: nil strings and
// ANY enums match everything; pattern MATCH matches the literal, wildcard
// and prefixed patterns that apply to the name.
type ACLFilter struct {
	ResourceType kmsg.ACLResourceType
	ResourceName *string
	PatternType  kmsg.ACLResourcePatternType
	Principal    *string
	Host         *string
	Operation    kmsg.ACLOperation
	Permission   kmsg.ACLPermissionType
}

// Matches reports whether a passes f.
func (f ACLFilter) Matches(a ACL) bool {
	if f.ResourceType != kmsg.ACLResourceTypeAny && f.ResourceType != a.ResourceType {
		return false
	}
	switch f.PatternType {
	case kmsg.ACLResourcePatternTypeAny:
		if f.ResourceName != nil && *f.ResourceName != a.ResourceName {
			return false
		}
	case kmsg.ACLResourcePatternTypeMatch:
		if f.ResourceName != nil && !patternCovers(a, *f.ResourceName) {
			return false
		}
	default:
		if f.PatternType != a.PatternType || (f.ResourceName != nil && *f.ResourceName != a.ResourceName) {
			return false
		}
	}
	if f.Principal != nil && *f.Principal != a.Principal {
		return false
	}
	if f.Host != nil && *f.Host != a.Host {
		return false
	}
	if f.Operation != kmsg.ACLOperationAny && f.Operation != a.Operation {
		return false
	}
	if f.Permission != kmsg.ACLPermissionTypeAny && f.Permission != a.Permission {
		return false
	}
	return true
}

// patternCovers reports whether a's resource pattern applies to name.
func patternCovers(a ACL, name string) bool {
	switch a.PatternType {
	case kmsg.ACLResourcePatternTypeLiteral:
		return a.ResourceName == name || a.ResourceName == "*"
	case kmsg.ACLResourcePatternTypePrefixed:
		return strings.HasPrefix(name, a.ResourceName)
	}
	return false
}

// Validate checks an ACL as CreateAcls must.
func (a ACL) Validate() error {
	switch a.ResourceType {
	case kmsg.ACLResourceTypeTopic, kmsg.ACLResourceTypeGroup, kmsg.ACLResourceTypeCluster,
		kmsg.ACLResourceTypeTransactionalId, kmsg.ACLResourceTypeDelegationToken:
	default:
		return fmt.Errorf("invalid resource type %v", a.ResourceType)
	}
	if a.PatternType != kmsg.ACLResourcePatternTypeLiteral && a.PatternType != kmsg.ACLResourcePatternTypePrefixed {
		return fmt.Errorf("invalid pattern type %v: LITERAL or PREFIXED", a.PatternType)
	}
	if a.ResourceName == "" {
		return errors.New("empty resource name")
	}
	if a.ResourceType == kmsg.ACLResourceTypeCluster && a.ResourceName != "kafka-cluster" {
		return fmt.Errorf("the cluster resource is named kafka-cluster, not %q", a.ResourceName)
	}
	if !strings.HasPrefix(a.Principal, "User:") {
		return fmt.Errorf("principal %q is not User:<name>", a.Principal)
	}
	if a.Operation <= kmsg.ACLOperationAny || a.Operation > kmsg.ACLOperationDescribeTokens {
		return fmt.Errorf("invalid operation %v", a.Operation)
	}
	if a.Permission != kmsg.ACLPermissionTypeAllow && a.Permission != kmsg.ACLPermissionTypeDeny {
		return fmt.Errorf("invalid permission %v", a.Permission)
	}
	if a.Host == "" {
		return errors.New("empty host (use *)")
	}
	return nil
}

// Authorizer decides requests from ACLs kept in a JSON file rewritten
// atomically (with fsync) on every change.
type Authorizer struct {
	path       string
	write      func(string, []byte) error
	superUsers map[string]bool
	allowNoACL bool

	mu   sync.RWMutex
	acls []ACL
}

// OpenAuthorizer reads super.users and allow.everyone.if.no.acl.found from
// props and loads the ACLs at path (absent: none).
func OpenAuthorizer(props map[string]string, path string, write func(string, []byte) error) (*Authorizer, error) {
	a := &Authorizer{path: path, write: write, superUsers: map[string]bool{}}
	for _, u := range strings.Split(props[KeySuperUsers], ";") {
		if u = strings.TrimSpace(u); u != "" {
			a.superUsers[u] = true
		}
	}
	switch strings.TrimSpace(props[KeyAllowIfNoACLFound]) {
	case "", "false":
	case "true":
		a.allowNoACL = true
	default:
		return nil, fmt.Errorf("%s=%q: true or false", KeyAllowIfNoACLFound, props[KeyAllowIfNoACLFound])
	}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("acls: %w", err)
	}
	if err == nil {
		if err := json.Unmarshal(b, &a.acls); err != nil {
			return nil, fmt.Errorf("acls %s: %w", path, err)
		}
	}
	return a, nil
}

// SuperUser reports whether principal bypasses ACLs.
func (a *Authorizer) SuperUser(principal string) bool { return a.superUsers[principal] }

// Authorize decides whether principal, connecting from host, may perform
// op on the resource: super users may; a matching DENY wins over any ALLOW;
// Read, Write, Delete and Alter imply Describe, AlterConfigs implies
// DescribeConfigs, All implies everything; with no ACL on the resource at
// all, allow.everyone.if.no.acl.found decides.
func (a *Authorizer) Authorize(principal, host string, op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	if a.superUsers[principal] {
		return true
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	found, allowed := false, false
	for _, acl := range a.acls {
		if acl.ResourceType != rt || !patternCovers(acl, name) {
			continue
		}
		found = true
		if acl.Principal != principal && acl.Principal != "User:*" {
			continue
		}
		if acl.Host != "*" && acl.Host != host {
			continue
		}
		if acl.Permission == kmsg.ACLPermissionTypeDeny {
			if acl.Operation == op || acl.Operation == kmsg.ACLOperationAll {
				return false
			}
			continue
		}
		if implies(acl.Operation, op) {
			allowed = true
		}
	}
	if !found {
		return a.allowNoACL
	}
	return allowed
}

func implies(have, want kmsg.ACLOperation) bool {
	if have == want || have == kmsg.ACLOperationAll {
		return true
	}
	switch want {
	case kmsg.ACLOperationDescribe:
		return have == kmsg.ACLOperationRead || have == kmsg.ACLOperationWrite ||
			have == kmsg.ACLOperationDelete || have == kmsg.ACLOperationAlter
	case kmsg.ACLOperationDescribeConfigs:
		return have == kmsg.ACLOperationAlterConfigs
	}
	return false
}

// Create adds acls (existing ones are kept once) and persists them.
func (a *Authorizer) Create(acls []ACL) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	next := append([]ACL(nil), a.acls...)
	for _, n := range acls {
		dup := false
		for _, o := range next {
			if o == n {
				dup = true
				break
			}
		}
		if !dup {
			next = append(next, n)
		}
	}
	return a.save(next)
}

// Describe returns the ACLs matching f.
func (a *Authorizer) Describe(f ACLFilter) []ACL {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []ACL
	for _, acl := range a.acls {
		if f.Matches(acl) {
			out = append(out, acl)
		}
	}
	return out
}

// Delete removes the ACLs matching each filter and returns them per filter.
func (a *Authorizer) Delete(fs []ACLFilter) ([][]ACL, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([][]ACL, len(fs))
	var keep []ACL
	for _, acl := range a.acls {
		hit := false
		for i, f := range fs {
			if f.Matches(acl) {
				out[i] = append(out[i], acl)
				hit = true
			}
		}
		if !hit {
			keep = append(keep, acl)
		}
	}
	return out, a.save(keep)
}

func (a *Authorizer) save(next []ACL) error {
	if next == nil {
		next = []ACL{}
	}
	b, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return err
	}
	if err := a.write(a.path, b); err != nil {
		return fmt.Errorf("acls: %w", err)
	}
	a.acls = next
	return nil
}

// AnyAllowed reports whether some ACL allows principal op on any resource
// of type rt (Kafka lets idempotent producers in with Write on any topic).
func (a *Authorizer) AnyAllowed(principal, host string, op kmsg.ACLOperation, rt kmsg.ACLResourceType) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	for _, acl := range a.acls {
		if acl.ResourceType == rt && acl.Permission == kmsg.ACLPermissionTypeAllow &&
			(acl.Principal == principal || acl.Principal == "User:*") && (acl.Host == "*" || acl.Host == host) &&
			implies(acl.Operation, op) {
			return true
		}
	}
	return false
}
