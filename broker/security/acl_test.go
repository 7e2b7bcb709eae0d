package security

import (
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestAuthorizerRules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acls.json")
	a, err := OpenAuthorizer(map[string]string{KeySuperUsers: "User:root; User:ops"}, path, WriteFileAtomic)
	if err != nil {
		t.Fatal(err)
	}
	lit, pre := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
	topic := kmsg.ACLResourceTypeTopic
	allow, deny := kmsg.ACLPermissionTypeAllow, kmsg.ACLPermissionTypeDeny
	if err := a.Create([]ACL{
		{topic, "orders", lit, "User:alice", "*", kmsg.ACLOperationRead, allow},
		{topic, "logs-", pre, "User:*", "*", kmsg.ACLOperationWrite, allow},
		{topic, "logs-secret", lit, "User:bob", "*", kmsg.ACLOperationAll, deny},
		{topic, "*", lit, "User:carol", "10.0.0.1", kmsg.ACLOperationDescribe, allow},
	}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		who, host string
		op        kmsg.ACLOperation
		name      string
		want      bool
	}{
		{"User:alice", "h", kmsg.ACLOperationRead, "orders", true},
		{"User:alice", "h", kmsg.ACLOperationDescribe, "orders", true}, // Read implies Describe
		{"User:alice", "h", kmsg.ACLOperationWrite, "orders", false},
		{"User:bob", "h", kmsg.ACLOperationWrite, "logs-app", true},     // prefixed, any user
		{"User:bob", "h", kmsg.ACLOperationWrite, "logs-secret", false}, // deny wins
		{"User:carol", "10.0.0.1", kmsg.ACLOperationDescribe, "anything", true},
		{"User:carol", "10.0.0.2", kmsg.ACLOperationDescribe, "anything", false},
		{"User:root", "h", kmsg.ACLOperationDelete, "orders", true}, // super user
		{"User:ops", "h", kmsg.ACLOperationDelete, "orders", true},
		{"User:alice", "h", kmsg.ACLOperationRead, "no-acl-topic", false}, // no ACL, allow.everyone off (the * ACL covers it but not alice)
	}
	for _, c := range cases {
		if got := a.Authorize(c.who, c.host, c.op, topic, c.name); got != c.want {
			t.Errorf("%s@%s %v %s: %v, want %v", c.who, c.host, c.op, c.name, got, c.want)
		}
	}
	// allow.everyone.if.no.acl.found opens resources without any ACL.
	open, err := OpenAuthorizer(map[string]string{KeyAllowIfNoACLFound: "true"}, path, WriteFileAtomic)
	if err != nil {
		t.Fatal(err)
	}
	if !open.Authorize("User:x", "h", kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, "free") {
		t.Error("no ACL on a group with allow.everyone.if.no.acl.found=true: denied")
	}
	if open.Authorize("User:x", "h", kmsg.ACLOperationRead, topic, "orders") {
		t.Error("orders has ACLs: must not be open")
	}
	// Persisted: a reopened authorizer has the same four ACLs.
	if n := len(open.Describe(ACLFilter{ResourceType: kmsg.ACLResourceTypeAny, PatternType: kmsg.ACLResourcePatternTypeAny,
		Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny})); n != 4 {
		t.Fatalf("%d ACLs after reopen, want 4", n)
	}
}
