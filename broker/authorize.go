package broker

import (
	"errors"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/broker/storage"
)

// authorized serves req through fn after the ACL checks Kafka's authorizer
// makes for its API; without an authorizer it just serves.
func (s *Server) authorized(rc *RequestContext, req kmsg.Request, fn HandlerFunc) Reply {
	if s.sec.authz == nil || s.sec.authz.SuperUser(rc.Principal) {
		return fn(rc, req)
	}
	return s.authorize(rc, req, fn)
}

// Resource types and operations, short.
const (
	rTopic   = kmsg.ACLResourceTypeTopic
	rGroup   = kmsg.ACLResourceTypeGroup
	rCluster = kmsg.ACLResourceTypeCluster
	rTxn     = kmsg.ACLResourceTypeTransactionalId

	opRead      = kmsg.ACLOperationRead
	opWrite     = kmsg.ACLOperationWrite
	opCreate    = kmsg.ACLOperationCreate
	opDelete    = kmsg.ACLOperationDelete
	opAlter     = kmsg.ACLOperationAlter
	opDescribe  = kmsg.ACLOperationDescribe
	opDescCfg   = kmsg.ACLOperationDescribeConfigs
	opAlterCfg  = kmsg.ACLOperationAlterConfigs
	opIdemWrite = kmsg.ACLOperationIdempotentWrite
)

var (
	errTopicAuthz   = kerr.TopicAuthorizationFailed.Code
	errGroupAuthz   = kerr.GroupAuthorizationFailed.Code
	errClusterAuthz = kerr.ClusterAuthorizationFailed.Code
	errTxnAuthz     = kerr.TransactionalIDAuthorizationFailed.Code
)

// authz decides for one request's principal and host.
type authz struct {
	s         *Server
	principal string
	host      string
}

func (a authz) can(op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	return a.s.sec.authz.Authorize(a.principal, a.host, op, rt, name)
}

func (a authz) cluster(op kmsg.ACLOperation) bool { return a.can(op, rCluster, "kafka-cluster") }

// topicName names a topic given by name or, in newer versions, by id.
func (s *Server) topicName(name string, id [16]byte) string {
	if name != "" || id == [16]byte{} {
		return name
	}
	s.topicsMu.RLock()
	defer s.topicsMu.RUnlock()
	if t := s.topicIDs[id]; t != nil {
		return t.name
	}
	return ""
}

// amend applies f to the reply's response, now or when it is computed.
func amend(r Reply, f func(kmsg.Response)) Reply {
	if r.resp != nil {
		f(r.resp)
	} else if r.later != nil {
		later := r.later
		r.later = func() kmsg.Response {
			resp := later()
			if resp != nil {
				f(resp)
			}
			return resp
		}
	}
	return r
}

// errNotAuthorized closes the connection of a request whose API has no
// per-resource answer here.
var errNotAuthorized = errors.New("not authorized")

// authorize applies Kafka's authorization rules per API: requests on
// resources the principal may not use get the API's authorization error for
// those resources (and are not applied to them), lists and descriptions
// leave out what the principal may not describe.
func (s *Server) authorize(rc *RequestContext, req kmsg.Request, fn HandlerFunc) Reply {
	host, _, _ := net.SplitHostPort(rc.Remote.String())
	a := authz{s: s, principal: rc.Principal, host: host}
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest, *kmsg.SASLHandshakeRequest, *kmsg.SASLAuthenticateRequest:
		return fn(rc, req)

	case *kmsg.ProduceRequest:
		txnDenied := r.TransactionID != nil && !a.can(opWrite, rTxn, *r.TransactionID)
		keep, denied := split(r.Topics, func(t kmsg.ProduceRequestTopic) bool {
			return !txnDenied && a.can(opWrite, rTopic, s.topicName(t.Topic, t.TopicID))
		})
		if len(denied) == 0 {
			return fn(rc, req)
		}
		code := errTopicAuthz
		if txnDenied {
			code = errTxnAuthz
		}
		add := func(kr kmsg.Response) {
			resp := kr.(*kmsg.ProduceResponse)
			for _, t := range denied {
				rt := kmsg.NewProduceResponseTopic()
				rt.Topic, rt.TopicID = t.Topic, t.TopicID
				for _, p := range t.Partitions {
					rp := kmsg.NewProduceResponseTopicPartition()
					rp.Partition, rp.ErrorCode = p.Partition, code
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
		}
		if len(keep) == 0 {
			if r.Acks == 0 {
				return NoResponse()
			}
			resp := r.ResponseKind()
			add(resp)
			return Respond(resp)
		}
		r.Topics = keep
		return amend(fn(rc, r), add)

	case *kmsg.FetchRequest:
		if r.ReplicaID >= 0 {
			if !a.cluster(kmsg.ACLOperationClusterAction) {
				return CloseConnection(errNotAuthorized)
			}
			return fn(rc, req)
		}
		keep, denied := split(r.Topics, func(t kmsg.FetchRequestTopic) bool {
			name := s.topicName(t.Topic, t.TopicID)
			// An unknown topic id is answered UNKNOWN_TOPIC_ID by the
			// handler, before authorization, as Kafka does.
			return (name == "" && r.Version >= 13) || a.can(opRead, rTopic, name)
		})
		if len(denied) == 0 {
			return fn(rc, req)
		}
		// As Kafka: the allowed topics are served and each partition of
		// a denied one is answered TOPIC_AUTHORIZATION_FAILED in the
		// same response.
		add := func(kr kmsg.Response) {
			var resp *kmsg.FetchResponse
			var fr *fetchResponse
			switch v := kr.(type) {
			case *fetchResponse:
				fr, resp = v, v.FetchResponse
			case *kmsg.FetchResponse:
				resp = v
			default:
				return
			}
			for _, t := range denied {
				rt := kmsg.NewFetchResponseTopic()
				rt.Topic, rt.TopicID = t.Topic, t.TopicID
				for _, p := range t.Partitions {
					rp := kmsg.NewFetchResponseTopicPartition()
					rp.Partition, rp.ErrorCode = p.Partition, errTopicAuthz
					rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = -1, -1, -1
					rp.RecordBatches = emptyRecords
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
				if fr != nil && fr.ranges != nil {
					fr.ranges = append(fr.ranges, make([]storage.FileRange, len(t.Partitions)))
				}
			}
		}
		if len(keep) == 0 {
			resp := r.ResponseKind()
			add(resp)
			return Respond(resp)
		}
		r.Topics = keep
		return amend(fn(rc, r), add)

	case *kmsg.MetadataRequest:
		var denied []kmsg.MetadataRequestTopic
		if r.Topics != nil {
			keep := make([]kmsg.MetadataRequestTopic, 0, len(r.Topics))
			create := a.cluster(opCreate)
			for _, t := range r.Topics {
				name := ""
				if t.Topic != nil {
					name = *t.Topic
				}
				name = s.topicName(name, t.TopicID)
				if !a.can(opDescribe, rTopic, name) {
					denied = append(denied, t)
					continue
				}
				if !create && !a.can(opCreate, rTopic, name) {
					r.AllowAutoTopicCreation = false
				}
				keep = append(keep, t)
			}
			r.Topics = keep
		}
		return amend(fn(rc, r), func(kr kmsg.Response) {
			resp := kr.(*kmsg.MetadataResponse)
			kept := resp.Topics[:0]
			for _, t := range resp.Topics {
				if t.Topic == nil || a.can(opDescribe, rTopic, *t.Topic) {
					kept = append(kept, t)
				}
			}
			resp.Topics = kept
			for _, t := range denied {
				mt := kmsg.NewMetadataResponseTopic()
				mt.Topic, mt.TopicID, mt.ErrorCode = t.Topic, t.TopicID, errTopicAuthz
				resp.Topics = append(resp.Topics, mt)
			}
		})

	case *kmsg.ListOffsetsRequest:
		keep, denied := split(r.Topics, func(t kmsg.ListOffsetsRequestTopic) bool { return a.can(opDescribe, rTopic, t.Topic) })
		if len(denied) == 0 {
			return fn(rc, req)
		}
		r.Topics = keep
		return amend(fn(rc, r), func(kr kmsg.Response) {
			resp := kr.(*kmsg.ListOffsetsResponse)
			for _, t := range denied {
				rt := kmsg.NewListOffsetsResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewListOffsetsResponseTopicPartition()
					rp.Partition, rp.ErrorCode = p.Partition, errTopicAuthz
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
		})

	case *kmsg.OffsetForLeaderEpochRequest:
		if r.ReplicaID >= 0 {
			if !a.cluster(kmsg.ACLOperationClusterAction) {
				return CloseConnection(errNotAuthorized)
			}
			return fn(rc, req)
		}
		keep, denied := split(r.Topics, func(t kmsg.OffsetForLeaderEpochRequestTopic) bool { return a.can(opDescribe, rTopic, t.Topic) })
		if len(denied) == 0 {
			return fn(rc, req)
		}
		r.Topics = keep
		return amend(fn(rc, r), func(kr kmsg.Response) {
			resp := kr.(*kmsg.OffsetForLeaderEpochResponse)
			for _, t := range denied {
				rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
					rp.Partition, rp.ErrorCode, rp.LeaderEpoch, rp.EndOffset = p.Partition, errTopicAuthz, -1, -1
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
		})

	case *kmsg.DeleteRecordsRequest:
		keep, denied := split(r.Topics, func(t kmsg.DeleteRecordsRequestTopic) bool { return a.can(opDelete, rTopic, t.Topic) })
		r.Topics = keep
		return amend(fn(rc, r), func(kr kmsg.Response) {
			resp := kr.(*kmsg.DeleteRecordsResponse)
			for _, t := range denied {
				rt := kmsg.NewDeleteRecordsResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewDeleteRecordsResponseTopicPartition()
					rp.Partition, rp.ErrorCode, rp.LowWatermark = p.Partition, errTopicAuthz, -1
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
		})

	case *kmsg.CreateTopicsRequest:
		create := a.cluster(opCreate)
		keep, denied := split(r.Topics, func(t kmsg.CreateTopicsRequestTopic) bool { return create || a.can(opCreate, rTopic, t.Topic) })
		r.Topics = keep
		return amend(fn(rc, r), func(kr kmsg.Response) {
			resp := kr.(*kmsg.CreateTopicsResponse)
			for _, t := range denied {
				rt := kmsg.NewCreateTopicsResponseTopic()
				rt.Topic, rt.ErrorCode = t.Topic, errTopicAuthz
				resp.Topics = append(resp.Topics, rt)
			}
		})

	case *kmsg.DeleteTopicsRequest:
		var deniedNames []string
		keepNames := r.TopicNames[:0:0]
		for _, n := range r.TopicNames {
			if a.can(opDelete, rTopic, n) {
				keepNames = append(keepNames, n)
			} else {
				deniedNames = append(deniedNames, n)
			}
		}
		var keep, denied []kmsg.DeleteTopicsRequestTopic
		for _, t := range r.Topics {
			name := ""
			if t.Topic != nil {
				name = *t.Topic
			}
			if a.can(opDelete, rTopic, s.topicName(name, t.TopicID)) {
				keep = append(keep, t)
			} else {
				denied = append(denied, t)
			}
		}
		r.TopicNames, r.Topics = keepNames, keep
		return amend(fn(rc, r), func(kr kmsg.Response) {
			resp := kr.(*kmsg.DeleteTopicsResponse)
			for _, n := range deniedNames {
				rt := kmsg.NewDeleteTopicsResponseTopic()
				rt.Topic, rt.ErrorCode = kmsg.StringPtr(n), errTopicAuthz
				resp.Topics = append(resp.Topics, rt)
			}
			for _, t := range denied {
				rt := kmsg.NewDeleteTopicsResponseTopic()
				rt.Topic, rt.TopicID, rt.ErrorCode = t.Topic, t.TopicID, errTopicAuthz
				resp.Topics = append(resp.Topics, rt)
			}
		})

	case *kmsg.CreatePartitionsRequest:
		keep, denied := split(r.Topics, func(t kmsg.CreatePartitionsRequestTopic) bool { return a.can(opAlter, rTopic, t.Topic) })
		r.Topics = keep
		return amend(fn(rc, r), func(kr kmsg.Response) {
			resp := kr.(*kmsg.CreatePartitionsResponse)
			for _, t := range denied {
				rt := kmsg.NewCreatePartitionsResponseTopic()
				rt.Topic, rt.ErrorCode = t.Topic, errTopicAuthz
				resp.Topics = append(resp.Topics, rt)
			}
		})

	case *kmsg.DescribeConfigsRequest:
		keep, denied := split(r.Resources, func(res kmsg.DescribeConfigsRequestResource) bool {
			return a.canConfig(opDescCfg, res.ResourceType, res.ResourceName)
		})
		r.Resources = keep
		return amend(fn(rc, r), func(kr kmsg.Response) {
			resp := kr.(*kmsg.DescribeConfigsResponse)
			for _, res := range denied {
				rr := kmsg.NewDescribeConfigsResponseResource()
				rr.ResourceType, rr.ResourceName, rr.ErrorCode = res.ResourceType, res.ResourceName, configAuthzCode(res.ResourceType)
				resp.Resources = append(resp.Resources, rr)
			}
		})

	case *kmsg.AlterConfigsRequest:
		keep, denied := split(r.Resources, func(res kmsg.AlterConfigsRequestResource) bool {
			return a.canConfig(opAlterCfg, res.ResourceType, res.ResourceName)
		})
		r.Resources = keep
		return amend(fn(rc, r), func(kr kmsg.Response) {
			resp := kr.(*kmsg.AlterConfigsResponse)
			for _, res := range denied {
				rr := kmsg.NewAlterConfigsResponseResource()
				rr.ResourceType, rr.ResourceName, rr.ErrorCode = res.ResourceType, res.ResourceName, configAuthzCode(res.ResourceType)
				resp.Resources = append(resp.Resources, rr)
			}
		})

	case *kmsg.IncrementalAlterConfigsRequest:
		keep, denied := split(r.Resources, func(res kmsg.IncrementalAlterConfigsRequestResource) bool {
			return a.canConfig(opAlterCfg, res.ResourceType, res.ResourceName)
		})
		r.Resources = keep
		return amend(fn(rc, r), func(kr kmsg.Response) {
			resp := kr.(*kmsg.IncrementalAlterConfigsResponse)
			for _, res := range denied {
				rr := kmsg.NewIncrementalAlterConfigsResponseResource()
				rr.ResourceType, rr.ResourceName, rr.ErrorCode = res.ResourceType, res.ResourceName, configAuthzCode(res.ResourceType)
				resp.Resources = append(resp.Resources, rr)
			}
		})

	case *kmsg.JoinGroupRequest:
		if !a.can(opRead, rGroup, r.Group) {
			resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
			resp.ErrorCode, resp.Generation = errGroupAuthz, -1
			return Respond(resp)
		}
	case *kmsg.SyncGroupRequest:
		if !a.can(opRead, rGroup, r.Group) {
			resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
			resp.ErrorCode = errGroupAuthz
			return Respond(resp)
		}
	case *kmsg.HeartbeatRequest:
		if !a.can(opRead, rGroup, r.Group) {
			resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
			resp.ErrorCode = errGroupAuthz
			return Respond(resp)
		}
	case *kmsg.LeaveGroupRequest:
		if !a.can(opRead, rGroup, r.Group) {
			resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
			resp.ErrorCode = errGroupAuthz
			return Respond(resp)
		}
	case *kmsg.OffsetDeleteRequest:
		if !a.can(opDelete, rGroup, r.Group) {
			resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
			resp.ErrorCode = errGroupAuthz
			return Respond(resp)
		}

	case *kmsg.OffsetCommitRequest:
		groupOK := a.can(opRead, rGroup, r.Group)
		keep, denied := split(r.Topics, func(t kmsg.OffsetCommitRequestTopic) bool { return groupOK && a.can(opRead, rTopic, t.Topic) })
		if len(denied) == 0 {
			return fn(rc, req)
		}
		code := errTopicAuthz
		if !groupOK {
			code = errGroupAuthz
		}
		add := func(kr kmsg.Response) {
			resp := kr.(*kmsg.OffsetCommitResponse)
			for _, t := range denied {
				rt := kmsg.NewOffsetCommitResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetCommitResponseTopicPartition()
					rp.Partition, rp.ErrorCode = p.Partition, code
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
		}
		if len(keep) == 0 {
			resp := r.ResponseKind()
			add(resp)
			return Respond(resp)
		}
		r.Topics = keep
		return amend(fn(rc, r), add)

	case *kmsg.OffsetFetchRequest:
		if r.Version < 8 && !a.can(opDescribe, rGroup, r.Group) {
			resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
			resp.ErrorCode = errGroupAuthz
			return Respond(resp)
		}
		deniedGroups := map[string]bool{}
		for _, g := range r.Groups {
			if !a.can(opDescribe, rGroup, g.Group) {
				deniedGroups[g.Group] = true
			}
		}
		return amend(fn(rc, req), func(kr kmsg.Response) {
			resp := kr.(*kmsg.OffsetFetchResponse)
			for i, t := range resp.Topics {
				if !a.can(opDescribe, rTopic, t.Topic) {
					for j := range t.Partitions {
						resp.Topics[i].Partitions[j].Offset = -1
						resp.Topics[i].Partitions[j].ErrorCode = errTopicAuthz
					}
				}
			}
			for i, g := range resp.Groups {
				if deniedGroups[g.Group] {
					resp.Groups[i].Topics, resp.Groups[i].ErrorCode = nil, errGroupAuthz
					continue
				}
				for j, t := range g.Topics {
					if !a.can(opDescribe, rTopic, t.Topic) {
						for k := range t.Partitions {
							resp.Groups[i].Topics[j].Partitions[k].Offset = -1
							resp.Groups[i].Topics[j].Partitions[k].ErrorCode = errTopicAuthz
						}
					}
				}
			}
		})

	case *kmsg.DescribeGroupsRequest:
		return amend(fn(rc, req), func(kr kmsg.Response) {
			resp := kr.(*kmsg.DescribeGroupsResponse)
			for i, g := range resp.Groups {
				if !a.can(opDescribe, rGroup, g.Group) {
					e := kmsg.NewDescribeGroupsResponseGroup()
					e.Group, e.ErrorCode = g.Group, errGroupAuthz
					resp.Groups[i] = e
				}
			}
		})

	case *kmsg.ListGroupsRequest:
		if a.cluster(opDescribe) {
			return fn(rc, req)
		}
		return amend(fn(rc, req), func(kr kmsg.Response) {
			resp := kr.(*kmsg.ListGroupsResponse)
			kept := resp.Groups[:0]
			for _, g := range resp.Groups {
				if a.can(opDescribe, rGroup, g.Group) {
					kept = append(kept, g)
				}
			}
			resp.Groups = kept
		})

	case *kmsg.DeleteGroupsRequest:
		var keep, denied []string
		for _, g := range r.Groups {
			if a.can(opDelete, rGroup, g) {
				keep = append(keep, g)
			} else {
				denied = append(denied, g)
			}
		}
		r.Groups = keep
		return amend(fn(rc, r), func(kr kmsg.Response) {
			resp := kr.(*kmsg.DeleteGroupsResponse)
			for _, g := range denied {
				rg := kmsg.NewDeleteGroupsResponseGroup()
				rg.Group, rg.ErrorCode = g, errGroupAuthz
				resp.Groups = append(resp.Groups, rg)
			}
		})

	case *kmsg.FindCoordinatorRequest:
		check := func(key string) int16 {
			if r.CoordinatorType == 1 {
				if !a.can(opDescribe, rTxn, key) {
					return errTxnAuthz
				}
			} else if !a.can(opDescribe, rGroup, key) {
				return errGroupAuthz
			}
			return 0
		}
		return amend(fn(rc, req), func(kr kmsg.Response) {
			resp := kr.(*kmsg.FindCoordinatorResponse)
			if r.Version < 4 {
				if code := check(r.CoordinatorKey); code != 0 {
					resp.ErrorCode, resp.NodeID, resp.Host, resp.Port = code, -1, "", -1
				}
				return
			}
			for i, c := range resp.Coordinators {
				if code := check(c.Key); code != 0 {
					resp.Coordinators[i].ErrorCode, resp.Coordinators[i].NodeID = code, -1
					resp.Coordinators[i].Host, resp.Coordinators[i].Port = "", -1
				}
			}
		})

	case *kmsg.InitProducerIDRequest:
		resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ProducerID, resp.ProducerEpoch = -1, -1
		if r.TransactionalID != nil {
			if !a.can(opWrite, rTxn, *r.TransactionalID) {
				resp.ErrorCode = errTxnAuthz
				return Respond(resp)
			}
		} else if !a.cluster(opIdemWrite) && !s.sec.authz.AnyAllowed(a.principal, a.host, opWrite, rTopic) {
			resp.ErrorCode = errClusterAuthz
			return Respond(resp)
		}

	case *kmsg.AddPartitionsToTxnRequest:
		if r.Version >= 4 {
			if !a.cluster(kmsg.ACLOperationClusterAction) {
				return CloseConnection(errNotAuthorized)
			}
			return fn(rc, req)
		}
		txnOK := a.can(opWrite, rTxn, r.TransactionalID)
		allOK := txnOK
		for _, t := range r.Topics {
			allOK = allOK && a.can(opWrite, rTopic, t.Topic)
		}
		if allOK {
			return fn(rc, req)
		}
		resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t.Topic
			code := kerr.OperationNotAttempted.Code
			switch {
			case !txnOK:
				code = errTxnAuthz
			case !a.can(opWrite, rTopic, t.Topic):
				code = errTopicAuthz
			}
			for _, p := range t.Partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return Respond(resp)

	case *kmsg.AddOffsetsToTxnRequest:
		resp := r.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
		switch {
		case !a.can(opWrite, rTxn, r.TransactionalID):
			resp.ErrorCode = errTxnAuthz
			return Respond(resp)
		case !a.can(opRead, rGroup, r.Group):
			resp.ErrorCode = errGroupAuthz
			return Respond(resp)
		}

	case *kmsg.EndTxnRequest:
		if !a.can(opWrite, rTxn, r.TransactionalID) {
			resp := r.ResponseKind().(*kmsg.EndTxnResponse)
			resp.ErrorCode = errTxnAuthz
			return Respond(resp)
		}

	case *kmsg.TxnOffsetCommitRequest:
		code := int16(0)
		switch {
		case !a.can(opWrite, rTxn, r.TransactionalID):
			code = errTxnAuthz
		case !a.can(opRead, rGroup, r.Group):
			code = errGroupAuthz
		}
		denied := false
		for _, t := range r.Topics {
			denied = denied || !a.can(opRead, rTopic, t.Topic)
		}
		if code == 0 && !denied {
			return fn(rc, req)
		}
		resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			c := code
			if c == 0 {
				c = kerr.OperationNotAttempted.Code
				if !a.can(opRead, rTopic, t.Topic) {
					c = errTopicAuthz
				}
			}
			for _, p := range t.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, c
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return Respond(resp)

	case *kmsg.DescribeClusterRequest:
		if !a.cluster(opDescribe) {
			resp := r.ResponseKind().(*kmsg.DescribeClusterResponse)
			resp.ErrorCode = errClusterAuthz
			return Respond(resp)
		}

	case *kmsg.CreateACLsRequest:
		if !a.cluster(opAlter) {
			resp := r.ResponseKind().(*kmsg.CreateACLsResponse)
			for range r.Creations {
				res := kmsg.NewCreateACLsResponseResult()
				res.ErrorCode = errClusterAuthz
				resp.Results = append(resp.Results, res)
			}
			return Respond(resp)
		}
	case *kmsg.DeleteACLsRequest:
		if !a.cluster(opAlter) {
			resp := r.ResponseKind().(*kmsg.DeleteACLsResponse)
			for range r.Filters {
				res := kmsg.NewDeleteACLsResponseResult()
				res.ErrorCode = errClusterAuthz
				resp.Results = append(resp.Results, res)
			}
			return Respond(resp)
		}
	case *kmsg.DescribeACLsRequest:
		if !a.cluster(opDescribe) {
			resp := r.ResponseKind().(*kmsg.DescribeACLsResponse)
			resp.ErrorCode = errClusterAuthz
			return Respond(resp)
		}
	case *kmsg.DescribeUserSCRAMCredentialsRequest:
		if !a.cluster(opDescribe) {
			resp := r.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
			resp.ErrorCode = errClusterAuthz
			return Respond(resp)
		}
	case *kmsg.AlterUserSCRAMCredentialsRequest:
		if !a.cluster(opAlter) {
			resp := r.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
			for _, d := range r.Deletions {
				res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
				res.User, res.ErrorCode = d.Name, errClusterAuthz
				resp.Results = append(resp.Results, res)
			}
			for _, u := range r.Upsertions {
				res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
				res.User, res.ErrorCode = u.Name, errClusterAuthz
				resp.Results = append(resp.Results, res)
			}
			return Respond(resp)
		}

	case *kmsg.DescribeTransactionsRequest:
		return amend(fn(rc, req), func(kr kmsg.Response) {
			resp := kr.(*kmsg.DescribeTransactionsResponse)
			for i, st := range resp.TransactionStates {
				if !a.can(opDescribe, rTxn, st.TransactionalID) {
					e := kmsg.NewDescribeTransactionsResponseTransactionState()
					e.TransactionalID, e.ErrorCode = st.TransactionalID, errTxnAuthz
					resp.TransactionStates[i] = e
				}
			}
		})

	case *kmsg.ListTransactionsRequest:
		return amend(fn(rc, req), func(kr kmsg.Response) {
			resp := kr.(*kmsg.ListTransactionsResponse)
			kept := resp.TransactionStates[:0]
			for _, st := range resp.TransactionStates {
				if a.can(opDescribe, rTxn, st.TransactionalID) {
					kept = append(kept, st)
				}
			}
			resp.TransactionStates = kept
		})

	default:
		// APIs added later without a rule here: only principals allowed
		// to alter the cluster may use them.
		if !a.cluster(opAlter) && !a.cluster(kmsg.ACLOperationAll) {
			s.log.Info("closing connection: not authorized", "principal", rc.Principal, "api", kmsg.NameForKey(req.Key()))
			return CloseConnection(errNotAuthorized)
		}
	}
	return fn(rc, req)
}

// canConfig checks a config operation on a topic or broker resource.
func (a authz) canConfig(op kmsg.ACLOperation, rt kmsg.ConfigResourceType, name string) bool {
	if rt == kmsg.ConfigResourceTypeTopic {
		return a.can(op, rTopic, name)
	}
	return a.cluster(op)
}

func configAuthzCode(rt kmsg.ConfigResourceType) int16 {
	if rt == kmsg.ConfigResourceTypeTopic {
		return errTopicAuthz
	}
	return errClusterAuthz
}

// split divides items into those ok accepts and the others.
func split[T any](items []T, ok func(T) bool) (keep, denied []T) {
	for _, it := range items {
		if ok(it) {
			keep = append(keep, it)
		} else {
			denied = append(denied, it)
		}
	}
	return keep, denied
}
