package worker

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/transforms"
)

// Connector config keys the runtime owns, Kafka Connect's names.
const (
	KeyName                 = "name"
	KeyConnectorClass       = "connector.class"
	KeyTasksMax             = "tasks.max"
	KeyTransforms           = "transforms"
	KeyPredicates           = "predicates"
	KeyTopics               = "topics"
	KeyTopicsRegex          = "topics.regex"
	KeyErrorsRetryTimeout   = "errors.retry.timeout"
	KeyErrorsRetryDelayMax  = "errors.retry.delay.max.ms"
	KeyErrorsTolerance      = "errors.tolerance"
	KeyErrorsLogEnable      = "errors.log.enable"
	KeyErrorsLogMessages    = "errors.log.include.messages"
	KeyDLQTopic             = "errors.deadletterqueue.topic.name"
	KeyDLQReplication       = "errors.deadletterqueue.topic.replication.factor"
	KeyDLQContextHeaders    = "errors.deadletterqueue.context.headers.enable"
	KeyTopicCreationGroups  = "topic.creation.groups"
	KeyTopicCreationDefRF   = "topic.creation.default.replication.factor"
	KeyTopicCreationDefPart = "topic.creation.default.partitions"
	KeyConsumerGroupID      = "consumer.override.group.id"
)

func commonConnectorKeys() []config.Key {
	return []config.Key{
		{Name: KeyName, Type: config.String, Required: true, Validator: config.NonEmpty(), Importance: config.High, Group: "Common", OrderInGroup: 1,
			Doc: "Globally unique name to use for this connector."},
		{Name: KeyConnectorClass, Type: config.String, Required: true, Importance: config.High, Group: "Common", OrderInGroup: 2,
			Doc: "Name or alias of the class for this connector."},
		{Name: KeyTasksMax, Type: config.Int, Default: 1, Validator: config.AtLeast(1), Importance: config.High, Group: "Common", OrderInGroup: 3,
			Doc: "Maximum number of tasks to use for this connector."},
		{Name: KeyKeyConverter, Type: config.Class, Default: nil, Importance: config.Low, Group: "Common", OrderInGroup: 4,
			Doc: "Converter class for record keys; overrides the worker's."},
		{Name: KeyValueConverter, Type: config.Class, Default: nil, Importance: config.Low, Group: "Common", OrderInGroup: 5,
			Doc: "Converter class for record values; overrides the worker's."},
		{Name: KeyHeaderConverter, Type: config.Class, Default: nil, Importance: config.Low, Group: "Common", OrderInGroup: 6,
			Doc: "Converter class for header values; overrides the worker's."},
		{Name: KeyTransforms, Type: config.List, Default: []string{}, Importance: config.Low, Group: "Transforms", OrderInGroup: 1,
			Doc: "Aliases for the transformations to be applied to records, in order; transforms.<alias>.type names each."},
		{Name: KeyPredicates, Type: config.List, Default: []string{}, Importance: config.Low, Group: "Predicates", OrderInGroup: 1,
			Doc: "Aliases for the predicates used by transformations; predicates.<alias>.type names each."},
		{Name: KeyErrorsRetryTimeout, Type: config.Long, Default: int64(0), Validator: config.AtLeast(-1), Importance: config.Medium, Group: "Error Handling", OrderInGroup: 1,
			Doc: "How long a failed operation is retried, in milliseconds; 0 no retries, -1 forever."},
		{Name: KeyErrorsRetryDelayMax, Type: config.Long, Default: int64(60000), Validator: config.AtLeast(1), Importance: config.Medium, Group: "Error Handling", OrderInGroup: 2,
			Doc: "Maximum delay between consecutive retries, in milliseconds; delays grow exponentially with jitter up to it."},
		{Name: KeyErrorsTolerance, Type: config.String, Default: "none", Validator: config.OneOf("none", "all"), Importance: config.Medium, Group: "Error Handling", OrderInGroup: 3,
			Doc: "none: an error fails the task; all: problematic records are skipped (logged, sent to the dead letter queue)."},
		{Name: KeyErrorsLogEnable, Type: config.Boolean, Default: false, Importance: config.Medium, Group: "Error Handling", OrderInGroup: 4,
			Doc: "Log each error and the failed operation."},
		{Name: KeyErrorsLogMessages, Type: config.Boolean, Default: false, Importance: config.Medium, Group: "Error Handling", OrderInGroup: 5,
			Doc: "Include the record's key and value in error log lines."},
		{Name: KeyDLQTopic, Type: config.String, Default: "", Importance: config.Medium, Group: "Error Handling", OrderInGroup: 6,
			Doc: "Topic receiving the records that failed (for sink and, in Penstock, source connectors); empty for none."},
		{Name: KeyDLQReplication, Type: config.Int, Default: -1, Importance: config.Medium, Group: "Error Handling", OrderInGroup: 7,
			Doc: "Replication factor of the dead letter queue topic when it is created (-1: the broker's default)."},
		{Name: KeyDLQContextHeaders, Type: config.Boolean, Default: false, Importance: config.Medium, Group: "Error Handling", OrderInGroup: 8,
			Doc: "Add __connect.errors.* headers describing the failure to dead letter queue records."},
	}
}

// SinkConnectorDef is the runtime's definition of a sink connector's own keys.
var SinkConnectorDef = config.NewDef(append(commonConnectorKeys(),
	config.Key{Name: KeyTopics, Type: config.List, Default: []string{}, Importance: config.High, Group: "Common", OrderInGroup: 4,
		Doc: "Topics to consume; exactly one of topics and topics.regex."},
	config.Key{Name: KeyTopicsRegex, Type: config.String, Default: "", Importance: config.High, Group: "Common", OrderInGroup: 4,
		Doc: "Regular expression of the topics to consume; exactly one of topics and topics.regex."},
)...)

// SourceConnectorDef is the runtime's definition of a source connector's own keys.
var SourceConnectorDef = config.NewDef(append(commonConnectorKeys(),
	config.Key{Name: KeyTopicCreationGroups, Type: config.List, Default: []string{}, Importance: config.Low, Group: "Topic Creation",
		Doc: "Groups of topic.creation.<group>.* settings beyond the default group."},
	config.Key{Name: KeyTopicCreationDefRF, Type: config.Int, Default: nil, Importance: config.Low, Group: "Topic Creation",
		Doc: "Replication factor of the topics the connector creates (-1: broker default); with topic.creation.default.partitions enables creation."},
	config.Key{Name: KeyTopicCreationDefPart, Type: config.Int, Default: nil, Importance: config.Low, Group: "Topic Creation",
		Doc: "Partitions of the topics the connector creates (-1: broker default)."},
)...)

// errorPolicy is a connector's errors.* settings.
type errorPolicy struct {
	tolerateAll    bool
	retryTimeout   time.Duration // <0: forever
	retryDelayMax  time.Duration
	logEnable      bool
	logMessages    bool
	dlqTopic       string
	dlqReplication int16
	dlqHeaders     bool
}

func parseErrorPolicy(props map[string]string) (errorPolicy, error) {
	v, err := SinkConnectorDef.Parse(withDefaults(props))
	if err != nil {
		return errorPolicy{}, err
	}
	p := errorPolicy{
		tolerateAll:    strings.EqualFold(v.String(KeyErrorsTolerance), "all"),
		retryTimeout:   time.Duration(v.Long(KeyErrorsRetryTimeout)) * time.Millisecond,
		retryDelayMax:  time.Duration(v.Long(KeyErrorsRetryDelayMax)) * time.Millisecond,
		logEnable:      v.Bool(KeyErrorsLogEnable),
		logMessages:    v.Bool(KeyErrorsLogMessages),
		dlqTopic:       v.String(KeyDLQTopic),
		dlqReplication: int16(v.Int(KeyDLQReplication)),
		dlqHeaders:     v.Bool(KeyDLQContextHeaders),
	}
	if v.Long(KeyErrorsRetryTimeout) < 0 {
		p.retryTimeout = -1
	}
	return p, nil
}

// withDefaults fills the keys Parse requires with placeholders so the
// runtime can parse its own settings from any stored config.
func withDefaults(props map[string]string) map[string]string {
	out := make(map[string]string, len(props)+2)
	for k, v := range props {
		out[k] = v
	}
	if out[KeyName] == "" {
		out[KeyName] = "-"
	}
	if out[KeyConnectorClass] == "" {
		out[KeyConnectorClass] = "-"
	}
	return out
}

// connectorKind returns the kind (source or sink) and plugin of a connector
// config, or an error naming connector.class.
func connectorPlugin(reg *plugins.Registry, props map[string]string) (plugins.Plugin, error) {
	class := strings.TrimSpace(props[KeyConnectorClass])
	if class == "" {
		return plugins.Plugin{}, config.MissingError(KeyConnectorClass)
	}
	return reg.LookupKind(class, plugins.Source, plugins.Sink)
}

// validateConnector validates a connector config as Kafka Connect does: the
// runtime's keys, the plugin's own definition, converters, transforms and
// predicates, and for sinks the topics rules.
func validateConnector(reg *plugins.Registry, props map[string]string) (config.Infos, *config.Def) {
	p, perr := connectorPlugin(reg, props)
	runtimeDef := SourceConnectorDef
	if perr == nil && p.Kind == plugins.Sink {
		runtimeDef = SinkConnectorDef
	}
	name := props[KeyConnectorClass]
	if perr == nil {
		name = p.Class
	}
	infos := runtimeDef.Validate(name, props)
	if perr != nil {
		if props[KeyConnectorClass] != "" {
			infos.AddError(KeyConnectorClass, perr.Error())
		}
		return infos, runtimeDef
	}
	inst := p.New()
	pluginDef := inst.Config()
	infos.Add(pluginDef.Validate(name, props))
	if cv, ok := inst.(connect.ConfigValidator); ok {
		cv.ValidateConfig(props, &infos)
	}
	if n := props[KeyName]; strings.ContainsFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		infos.AddError(KeyName, "Connector name may not contain ISO control characters")
	}
	for _, k := range []struct {
		key  string
		kind plugins.Kind
	}{{KeyKeyConverter, plugins.Converter}, {KeyValueConverter, plugins.Converter}, {KeyHeaderConverter, plugins.HeaderConverter}} {
		if c := strings.TrimSpace(props[k.key]); c != "" {
			if _, err := reg.LookupKind(c, k.kind); err != nil {
				infos.AddError(k.key, err.Error())
			}
		}
	}
	infos.Add(transforms.ValidateChain(props, transformFactory(reg), predicateFactory(reg)))
	if p.Kind == plugins.Sink {
		topics := strings.TrimSpace(props[KeyTopics])
		regex := strings.TrimSpace(props[KeyTopicsRegex])
		switch {
		case topics != "" && regex != "":
			infos.AddError(KeyTopics, "topics and topics.regex are mutually exclusive options, but both are set.")
		case topics == "" && regex == "":
			infos.AddError(KeyTopics, "Must configure one of topics or topics.regex")
		case regex != "":
			if _, err := regexp.Compile(regex); err != nil {
				infos.AddError(KeyTopicsRegex, config.InvalidError(KeyTopicsRegex, regex, err.Error()).Error())
			}
		}
		if dlq := strings.TrimSpace(props[KeyDLQTopic]); dlq != "" && topics != "" {
			for _, t := range strings.Split(topics, ",") {
				if strings.TrimSpace(t) == dlq {
					infos.AddError(KeyDLQTopic, fmt.Sprintf("The DLQ topic '%s' may not be included in the list of topics ('%s=%s') consumed by the connector", dlq, KeyTopics, topics))
				}
			}
		}
	}
	return infos, config.Merge(runtimeDef, pluginDef)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// invalidConfigMessage is Kafka Connect's 400 message for an invalid config.
func invalidConfigMessage(infos config.Infos) string {
	problems := problemsByKey(infos)
	return fmt.Sprintf("Connector configuration is invalid and contains the following %d error(s):\n%s\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`",
		len(problems), strings.Join(problems, "\n"))
}

func problemsByKey(infos config.Infos) []string {
	var out []string
	for _, c := range infos.Configs {
		for _, e := range c.Value.Errors {
			if strings.Contains(e, c.Definition.Name) {
				out = append(out, e)
			} else {
				out = append(out, c.Definition.Name+": "+e)
			}
		}
	}
	sort.Strings(out)
	return out
}
