package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/broker/security"
)

func init() {
	register(int16(kmsg.CreateACLs), 0, 3, handleCreateACLs)
	register(int16(kmsg.DescribeACLs), 0, 3, handleDescribeACLs)
	register(int16(kmsg.DeleteACLs), 0, 3, handleDeleteACLs)
}

// securityDisabled is Kafka's answer to ACL requests when no authorizer is
// configured.
var securityDisabled = kmsg.StringPtr("no authorizer is configured (authorizer.class.name)")

// patternOrLiteral maps v0's unset pattern type to LITERAL.
func patternOrLiteral(p kmsg.ACLResourcePatternType, version int16) kmsg.ACLResourcePatternType {
	if version == 0 {
		return kmsg.ACLResourcePatternTypeLiteral
	}
	return p
}

func handleCreateACLs(rc *RequestContext, kreq kmsg.Request) Reply {
	req := kreq.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	az := rc.Server.sec.authz
	var acls []security.ACL
	var ok []int
	for _, c := range req.Creations {
		r := kmsg.NewCreateACLsResponseResult()
		a := security.ACL{ResourceType: c.ResourceType, ResourceName: c.ResourceName,
			PatternType: patternOrLiteral(c.ResourcePatternType, req.Version), Principal: c.Principal, Host: c.Host,
			Operation: c.Operation, Permission: c.PermissionType}
		switch err := a.Validate(); {
		case az == nil:
			r.ErrorCode, r.ErrorMessage = kerr.SecurityDisabled.Code, securityDisabled
		case err != nil:
			r.ErrorCode, r.ErrorMessage = kerr.InvalidRequest.Code, kmsg.StringPtr(err.Error())
		default:
			acls = append(acls, a)
			ok = append(ok, len(resp.Results))
		}
		resp.Results = append(resp.Results, r)
	}
	if len(acls) > 0 {
		if err := az.Create(acls); err != nil {
			rc.Server.log.Error("storing ACLs failed", "err", err)
			for _, i := range ok {
				resp.Results[i].ErrorCode = kerr.UnknownServerError.Code
				resp.Results[i].ErrorMessage = kmsg.StringPtr(err.Error())
			}
		} else {
			rc.Server.log.Info("ACLs created", "principal", rc.Principal, "count", len(acls))
		}
	}
	return Respond(resp)
}

func handleDescribeACLs(rc *RequestContext, kreq kmsg.Request) Reply {
	req := kreq.(*kmsg.DescribeACLsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	az := rc.Server.sec.authz
	if az == nil {
		resp.ErrorCode, resp.ErrorMessage = kerr.SecurityDisabled.Code, securityDisabled
		return Respond(resp)
	}
	f := security.ACLFilter{ResourceType: req.ResourceType, ResourceName: req.ResourceName,
		PatternType: patternOrLiteral(req.ResourcePatternType, req.Version), Principal: req.Principal, Host: req.Host,
		Operation: req.Operation, Permission: req.PermissionType}
	type rkey struct {
		t kmsg.ACLResourceType
		n string
		p kmsg.ACLResourcePatternType
	}
	idx := map[rkey]int{}
	for _, a := range az.Describe(f) {
		k := rkey{a.ResourceType, a.ResourceName, a.PatternType}
		i, seen := idx[k]
		if !seen {
			r := kmsg.NewDescribeACLsResponseResource()
			r.ResourceType, r.ResourceName, r.ResourcePatternType = k.t, k.n, k.p
			i = len(resp.Resources)
			idx[k] = i
			resp.Resources = append(resp.Resources, r)
		}
		e := kmsg.NewDescribeACLsResponseResourceACL()
		e.Principal, e.Host, e.Operation, e.PermissionType = a.Principal, a.Host, a.Operation, a.Permission
		resp.Resources[i].ACLs = append(resp.Resources[i].ACLs, e)
	}
	return Respond(resp)
}

func handleDeleteACLs(rc *RequestContext, kreq kmsg.Request) Reply {
	req := kreq.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	az := rc.Server.sec.authz
	fs := make([]security.ACLFilter, len(req.Filters))
	for i, f := range req.Filters {
		fs[i] = security.ACLFilter{ResourceType: f.ResourceType, ResourceName: f.ResourceName,
			PatternType: patternOrLiteral(f.ResourcePatternType, req.Version), Principal: f.Principal, Host: f.Host,
			Operation: f.Operation, Permission: f.PermissionType}
	}
	var deleted [][]security.ACL
	var err error
	if az != nil {
		deleted, err = az.Delete(fs)
	}
	for i := range req.Filters {
		r := kmsg.NewDeleteACLsResponseResult()
		switch {
		case az == nil:
			r.ErrorCode, r.ErrorMessage = kerr.SecurityDisabled.Code, securityDisabled
		case err != nil:
			r.ErrorCode, r.ErrorMessage = kerr.UnknownServerError.Code, kmsg.StringPtr(err.Error())
		default:
			for _, a := range deleted[i] {
				m := kmsg.NewDeleteACLsResponseResultMatchingACL()
				m.ResourceType, m.ResourceName, m.ResourcePatternType = a.ResourceType, a.ResourceName, a.PatternType
				m.Principal, m.Host, m.Operation, m.PermissionType = a.Principal, a.Host, a.Operation, a.Permission
				r.MatchingACLs = append(r.MatchingACLs, m)
			}
		}
		resp.Results = append(resp.Results, r)
	}
	return Respond(resp)
}
