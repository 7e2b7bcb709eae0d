package broker

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(int16(kmsg.ApiVersions), 0, 5, handleApiVersions)
}

// apiVersionsResponse lists every registered API with its versions, clamped
// to what both the handler and kmsg support: the broker advertises exactly
// what it serves.
func (s *Server) apiVersionsResponse() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	s.hmu.RLock()
	keys := make([]int16, 0, len(s.handlers))
	for k := range s.handlers {
		keys = append(keys, k)
	}
	s.hmu.RUnlock()
	slices.Sort(keys)
	for _, k := range keys {
		h, ok := s.handler(k)
		if !ok || h.min > h.max {
			continue
		}
		ak := kmsg.NewApiVersionsResponseApiKey()
		ak.ApiKey, ak.MinVersion, ak.MaxVersion = k, h.min, h.max
		resp.ApiKeys = append(resp.ApiKeys, ak)
	}
	return resp
}

func handleApiVersions(rc *RequestContext, _ kmsg.Request) Reply {
	resp := rc.Server.apiVersionsResponse()
	resp.SetVersion(rc.Version)
	return Respond(resp)
}
