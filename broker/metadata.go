package broker

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(int16(kmsg.Metadata), 0, 13, handleMetadata)
	register(int16(kmsg.DescribeCluster), 0, 2, handleDescribeCluster)
}

// authorizedOperationsUnset is Kafka's "not requested" value (INT32_MIN).
const authorizedOperationsUnset = -2147483648

func (s *Server) metadataBroker(rc *RequestContext) kmsg.MetadataResponseBroker {
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID = s.cfg.NodeID
	b.Host, b.Port = rc.advertisedHostPort()
	return b
}

func (s *Server) metadataTopic(t *topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = kmsg.StringPtr(t.name)
	mt.TopicID = t.id
	mt.IsInternal = len(t.name) > 2 && t.name[:2] == "__"
	mt.AuthorizedOperations = authorizedOperationsUnset
	for p := range t.partitions() {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = int32(p)
		mp.Leader = s.cfg.NodeID
		mp.LeaderEpoch = 0
		mp.Replicas = []int32{s.cfg.NodeID}
		mp.ISR = []int32{s.cfg.NodeID}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

func handleMetadata(rc *RequestContext, kreq kmsg.Request) Reply {
	s := rc.Server
	req := kreq.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	resp.Brokers = []kmsg.MetadataResponseBroker{s.metadataBroker(rc)}
	resp.ClusterID = kmsg.StringPtr(s.clusterID)
	resp.ControllerID = s.cfg.NodeID
	resp.AuthorizedOperations = authorizedOperationsUnset

	// A null topic list (v1+) means all topics; an empty list none. In v0
	// an empty list means all.
	if req.Topics == nil || req.Version == 0 && len(req.Topics) == 0 {
		ts := s.topicList()
		slices.SortFunc(ts, func(a, b *topic) int {
			if a.name < b.name {
				return -1
			}
			return 1
		})
		for _, t := range ts {
			resp.Topics = append(resp.Topics, s.metadataTopic(t))
		}
		return Respond(resp)
	}
	autoCreate := s.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	for _, rt := range req.Topics {
		var t *topic
		switch {
		case rt.Topic != nil:
			t = s.lookupTopic(*rt.Topic)
			if t == nil && autoCreate {
				var err error
				t, err = s.createTopic(*rt.Topic, -1, nil, false)
				if err != nil {
					// Lost a race with a concurrent creation, or a
					// bad name.
					if t = s.lookupTopic(*rt.Topic); t == nil {
						mt := kmsg.NewMetadataResponseTopic()
						mt.Topic = rt.Topic
						mt.ErrorCode, _ = kafkaCode(err)
						resp.Topics = append(resp.Topics, mt)
						continue
					}
				}
			}
		default:
			t = s.lookupTopicID(rt.TopicID)
		}
		if t == nil {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic = rt.Topic
			mt.TopicID = rt.TopicID
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if rt.Topic == nil {
				mt.ErrorCode = kerr.UnknownTopicID.Code
			}
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		resp.Topics = append(resp.Topics, s.metadataTopic(t))
	}
	return Respond(resp)
}

func handleDescribeCluster(rc *RequestContext, kreq kmsg.Request) Reply {
	s := rc.Server
	req := kreq.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	if req.Version >= 1 && req.EndpointType != 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		resp.ErrorMessage = kmsg.StringPtr("only broker endpoints are served")
		return Respond(resp)
	}
	resp.EndpointType = 1
	resp.ClusterID = s.clusterID
	resp.ControllerID = s.cfg.NodeID
	b := kmsg.NewDescribeClusterResponseBroker()
	b.NodeID = s.cfg.NodeID
	b.Host, b.Port = rc.advertisedHostPort()
	resp.Brokers = []kmsg.DescribeClusterResponseBroker{b}
	resp.ClusterAuthorizedOperations = authorizedOperationsUnset
	return Respond(resp)
}
