package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/broker/storage"
)

func init() {
	register(int16(kmsg.CreateTopics), 0, 7, handleCreateTopics)
	register(int16(kmsg.DeleteTopics), 0, 6, handleDeleteTopics)
	register(int16(kmsg.CreatePartitions), 0, 3, handleCreatePartitions)
	register(int16(kmsg.DeleteRecords), 0, 2, handleDeleteRecords)
}

func handleCreateTopics(rc *RequestContext, kreq kmsg.Request) Reply {
	s := rc.Server
	req := kreq.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		fail := func(err error) {
			st.ErrorCode, st.ErrorMessage = kafkaCode(err)
			resp.Topics = append(resp.Topics, st)
		}
		if seen[rt.Topic] > 1 {
			fail(errCode(kerr.InvalidRequest, "topic %q is listed more than once", rt.Topic))
			continue
		}
		partitions := rt.NumPartitions
		if len(rt.ReplicaAssignment) > 0 {
			if partitions != -1 || rt.ReplicationFactor != -1 {
				fail(errCode(kerr.InvalidRequest, "replica assignment given together with partitions or replication factor"))
				continue
			}
			bad := false
			for _, a := range rt.ReplicaAssignment {
				if len(a.Replicas) != 1 || a.Replicas[0] != s.cfg.NodeID {
					bad = true
				}
			}
			if bad {
				fail(errCode(kerr.InvalidReplicaAssignment, "this cluster has one broker, node %d", s.cfg.NodeID))
				continue
			}
			partitions = int32(len(rt.ReplicaAssignment))
		}
		if rt.ReplicationFactor != -1 && rt.ReplicationFactor != 1 {
			fail(errCode(kerr.InvalidReplicationFactor, "replication factor %d is larger than the 1 available broker", rt.ReplicationFactor))
			continue
		}
		configs := map[string]string{}
		for _, c := range rt.Configs {
			if c.Value != nil {
				configs[c.Name] = *c.Value
			}
		}
		t, err := s.createTopic(rt.Topic, partitions, configs, req.ValidateOnly)
		if err != nil {
			fail(err)
			continue
		}
		st.TopicID = t.id
		st.NumPartitions = int32(len(t.parts))
		st.ReplicationFactor = 1
		for _, d := range topicConfigDefs {
			v, override := s.cfg.effectiveTopicConfig(t.configs, d.name)
			c := kmsg.NewCreateTopicsResponseTopicConfig()
			c.Name, c.Value = d.name, kmsg.StringPtr(v)
			c.Source = int8(kmsg.ConfigSourceDefaultConfig)
			if override {
				c.Source = int8(kmsg.ConfigSourceDynamicTopicConfig)
			}
			st.Configs = append(st.Configs, c)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return Respond(resp)
}

func handleDeleteTopics(rc *RequestContext, kreq kmsg.Request) Reply {
	s := rc.Server
	req := kreq.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	topics := req.Topics
	for _, n := range req.TopicNames {
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = kmsg.StringPtr(n)
		topics = append(topics, rt)
	}
	for _, rt := range topics {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		var t *topic
		if rt.Topic != nil {
			t = s.lookupTopic(*rt.Topic)
		} else {
			t = s.lookupTopicID(rt.TopicID)
		}
		if t == nil {
			st.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if rt.Topic == nil {
				st.ErrorCode = kerr.UnknownTopicID.Code
			}
			resp.Topics = append(resp.Topics, st)
			continue
		}
		st.Topic, st.TopicID = kmsg.StringPtr(t.name), t.id
		if err := s.deleteTopic(t); err != nil {
			st.ErrorCode, st.ErrorMessage = kafkaCode(err)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return Respond(resp)
}

func handleCreatePartitions(rc *RequestContext, kreq kmsg.Request) Reply {
	s := rc.Server
	req := kreq.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		t := s.lookupTopic(rt.Topic)
		var err error
		switch {
		case t == nil:
			err = errCode(kerr.UnknownTopicOrPartition, "topic %q does not exist", rt.Topic)
		case rt.Assignment != nil && int32(len(rt.Assignment)) != rt.Count-int32(len(t.partitions())):
			err = errCode(kerr.InvalidReplicaAssignment, "%d assignments for %d new partitions", len(rt.Assignment), rt.Count-int32(len(t.partitions())))
		default:
			for _, a := range rt.Assignment {
				if len(a.Replicas) != 1 || a.Replicas[0] != s.cfg.NodeID {
					err = errCode(kerr.InvalidReplicaAssignment, "this cluster has one broker, node %d", s.cfg.NodeID)
				}
			}
			if err == nil {
				err = s.addPartitions(t, rt.Count, req.ValidateOnly)
			}
		}
		st.ErrorCode, st.ErrorMessage = kafkaCode(err)
		resp.Topics = append(resp.Topics, st)
	}
	return Respond(resp)
}

func handleDeleteRecords(rc *RequestContext, kreq kmsg.Request) Reply {
	s := rc.Server
	req := kreq.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range req.Topics {
		t := s.lookupTopic(rt.Topic)
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			var pl *storage.Log
			if t != nil {
				pl = t.partition(rp.Partition)
			}
			if pl == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			off := rp.Offset
			if off == -1 {
				off = pl.HighWatermark()
			}
			lw, err := pl.DeleteRecordsBefore(off)
			sp.LowWatermark = lw
			sp.ErrorCode, _ = kafkaCode(err)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return Respond(resp)
}
