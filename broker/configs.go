package broker

import (
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(int16(kmsg.DescribeConfigs), 0, 4, handleDescribeConfigs)
	register(int16(kmsg.AlterConfigs), 0, 2, handleAlterConfigs)
	register(int16(kmsg.IncrementalAlterConfigs), 0, 1, handleIncrementalAlterConfigs)
}

// brokerConfigEntries lists the broker's settings for DescribeConfigs on a
// broker resource: the effective values of what Config models, plus every
// other property from the file. All are read-only (static).
func (s *Server) brokerConfigEntries() map[string]struct {
	value string
	set   bool
} {
	c := &s.cfg
	out := map[string]struct {
		value string
		set   bool
	}{}
	add := func(k, v string) {
		_, set := c.Props[k]
		out[k] = struct {
			value string
			set   bool
		}{v, set}
	}
	add("node.id", strconv.Itoa(int(c.NodeID)))
	add("broker.id", strconv.Itoa(int(c.NodeID)))
	add("auto.create.topics.enable", strconv.FormatBool(c.AutoCreateTopics))
	add("num.partitions", strconv.Itoa(int(c.NumPartitions)))
	add("default.replication.factor", "1")
	add("log.dirs", c.DataDir)
	add("log.segment.bytes", strconv.FormatInt(c.Log.SegmentBytes, 10))
	add("log.roll.ms", strconv.FormatInt(c.Log.SegmentMs, 10))
	add("log.retention.ms", strconv.FormatInt(c.Log.RetentionMs, 10))
	add("log.retention.bytes", strconv.FormatInt(c.Log.RetentionBytes, 10))
	add("message.max.bytes", strconv.Itoa(int(c.Log.MaxMessageBytes)))
	add("log.cleanup.policy", c.CleanupPolicy)
	add("log.retention.check.interval.ms", strconv.FormatInt(c.RetentionCheckInterval.Milliseconds(), 10))
	add("socket.request.max.bytes", strconv.Itoa(int(c.MaxRequestBytes)))
	add("log.index.interval.bytes", strconv.FormatInt(c.Log.IndexIntervalBytes, 10))
	ts := "CreateTime"
	if c.Log.LogAppendTime {
		ts = "LogAppendTime"
	}
	add("log.message.timestamp.type", ts)
	add(visibilityKey, visibilityName(c.Log.ReadUnsynced))
	for k, v := range c.Props {
		if _, ok := out[k]; !ok {
			add(k, v)
		}
	}
	return out
}

func handleDescribeConfigs(rc *RequestContext, kreq kmsg.Request) Reply {
	s := rc.Server
	req := kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	wanted := func(names []string, n string) bool { return names == nil || slices.Contains(names, n) }
	for _, rr := range req.Resources {
		res := kmsg.NewDescribeConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t := s.lookupTopic(rr.ResourceName)
			if t == nil {
				res.ErrorCode = kerr.UnknownTopicOrPartition.Code
				res.ErrorMessage = kmsg.StringPtr("topic " + rr.ResourceName + " does not exist")
				break
			}
			overrides := t.configSnapshot()
			for _, d := range topicConfigDefs {
				if !wanted(rr.ConfigNames, d.name) {
					continue
				}
				v, override := s.cfg.effectiveTopicConfig(overrides, d.name)
				c := kmsg.NewDescribeConfigsResponseResourceConfig()
				c.Name, c.Value = d.name, kmsg.StringPtr(v)
				c.ConfigType = d.typ
				c.Source = kmsg.ConfigSourceDefaultConfig
				c.IsDefault = !override
				if _, set := s.cfg.Props[d.brokerKey]; set {
					c.Source = kmsg.ConfigSourceStaticBrokerConfig
				}
				if override {
					c.Source = kmsg.ConfigSourceDynamicTopicConfig
				}
				if req.IncludeSynonyms {
					if override {
						syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
						syn.Name, syn.Value, syn.Source = d.name, kmsg.StringPtr(v), kmsg.ConfigSourceDynamicTopicConfig
						c.ConfigSynonyms = append(c.ConfigSynonyms, syn)
					}
					dv, _ := s.cfg.effectiveTopicConfig(nil, d.name)
					syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					syn.Name, syn.Value, syn.Source = d.brokerKey, kmsg.StringPtr(dv), kmsg.ConfigSourceDefaultConfig
					if _, set := s.cfg.Props[d.brokerKey]; set {
						syn.Source = kmsg.ConfigSourceStaticBrokerConfig
					}
					c.ConfigSynonyms = append(c.ConfigSynonyms, syn)
				}
				res.Configs = append(res.Configs, c)
			}
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(s.cfg.NodeID)) {
				res.ErrorCode = kerr.InvalidRequest.Code
				res.ErrorMessage = kmsg.StringPtr("unknown broker " + rr.ResourceName)
				break
			}
			entries := s.brokerConfigEntries()
			names := make([]string, 0, len(entries))
			for k := range entries {
				names = append(names, k)
			}
			slices.Sort(names)
			for _, k := range names {
				if !wanted(rr.ConfigNames, k) {
					continue
				}
				e := entries[k]
				c := kmsg.NewDescribeConfigsResponseResourceConfig()
				c.Name, c.Value, c.ReadOnly = k, kmsg.StringPtr(e.value), true
				c.IsSensitive = strings.Contains(k, "password")
				if c.IsSensitive {
					c.Value = nil
				}
				c.Source, c.IsDefault = kmsg.ConfigSourceDefaultConfig, !e.set
				if e.set {
					c.Source = kmsg.ConfigSourceStaticBrokerConfig
				}
				res.Configs = append(res.Configs, c)
			}
		default:
			res.ErrorCode = kerr.InvalidRequest.Code
			res.ErrorMessage = kmsg.StringPtr("unsupported resource type")
		}
		resp.Resources = append(resp.Resources, res)
	}
	return Respond(resp)
}

// alterTopic validates a new set of overrides and, unless validateOnly,
// stores and applies it.
func (s *Server) alterTopic(name string, build func(cur map[string]string) (map[string]string, error), validateOnly bool) error {
	t := s.lookupTopic(name)
	if t == nil {
		return errCode(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
	}
	next, err := build(t.configSnapshot())
	if err != nil {
		return err
	}
	for k, v := range next {
		if err := validateTopicConfig(k, v); err != nil {
			return errCode(kerr.InvalidConfig, "%v", err)
		}
	}
	if validateOnly {
		return nil
	}
	return s.setTopicConfigs(t, next)
}

func handleAlterConfigs(rc *RequestContext, kreq kmsg.Request) Reply {
	s := rc.Server
	req := kreq.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		res := kmsg.NewAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			// AlterConfigs replaces the whole set of overrides.
			err = s.alterTopic(rr.ResourceName, func(map[string]string) (map[string]string, error) {
				next := map[string]string{}
				for _, c := range rr.Configs {
					if c.Value != nil {
						next[c.Name] = *c.Value
					}
				}
				return next, nil
			}, req.ValidateOnly)
		case kmsg.ConfigResourceTypeBroker:
			err = errCode(kerr.InvalidRequest, "broker configs are static; edit the properties file and restart")
		default:
			err = errCode(kerr.InvalidRequest, "unsupported resource type")
		}
		res.ErrorCode, res.ErrorMessage = kafkaCode(err)
		resp.Resources = append(resp.Resources, res)
	}
	return Respond(resp)
}

func handleIncrementalAlterConfigs(rc *RequestContext, kreq kmsg.Request) Reply {
	s := rc.Server
	req := kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range req.Resources {
		res := kmsg.NewIncrementalAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			err = s.alterTopic(rr.ResourceName, func(cur map[string]string) (map[string]string, error) {
				for _, c := range rr.Configs {
					d, ok := topicConfigDefFor(c.Name)
					if !ok {
						return nil, errCode(kerr.InvalidConfig, "unknown topic config %q", c.Name)
					}
					val := ""
					if c.Value != nil {
						val = *c.Value
					}
					switch c.Op {
					case kmsg.IncrementalAlterConfigOpSet:
						cur[c.Name] = val
					case kmsg.IncrementalAlterConfigOpDelete:
						delete(cur, c.Name)
					case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
						if d.typ != kmsg.ConfigTypeList {
							return nil, errCode(kerr.InvalidConfig, "%s is not a list config", c.Name)
						}
						v, _ := s.cfg.effectiveTopicConfig(cur, c.Name)
						var items []string
						for it := range strings.SplitSeq(v, ",") {
							if it = strings.TrimSpace(it); it != "" {
								items = append(items, it)
							}
						}
						for it := range strings.SplitSeq(val, ",") {
							it = strings.TrimSpace(it)
							if c.Op == kmsg.IncrementalAlterConfigOpAppend && !slices.Contains(items, it) {
								items = append(items, it)
							} else if c.Op == kmsg.IncrementalAlterConfigOpSubtract {
								items = slices.DeleteFunc(items, func(x string) bool { return x == it })
							}
						}
						cur[c.Name] = strings.Join(items, ",")
					default:
						return nil, errCode(kerr.InvalidRequest, "unknown operation %d", c.Op)
					}
				}
				return cur, nil
			}, req.ValidateOnly)
		case kmsg.ConfigResourceTypeBroker:
			err = errCode(kerr.InvalidRequest, "broker configs are static; edit the properties file and restart")
		default:
			err = errCode(kerr.InvalidRequest, "unsupported resource type")
		}
		res.ErrorCode, res.ErrorMessage = kafkaCode(err)
		resp.Resources = append(resp.Resources, res)
	}
	return Respond(resp)
}
