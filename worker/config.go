package worker

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/internal/properties"
)

// Worker config keys, Kafka Connect's names.
const (
	KeyBootstrapServers         = "bootstrap.servers"
	KeyGroupID                  = "group.id"
	KeyConfigTopic              = "config.storage.topic"
	KeyConfigReplication        = "config.storage.replication.factor"
	KeyOffsetTopic              = "offset.storage.topic"
	KeyOffsetReplication        = "offset.storage.replication.factor"
	KeyOffsetPartitions         = "offset.storage.partitions"
	KeyStatusTopic              = "status.storage.topic"
	KeyStatusReplication        = "status.storage.replication.factor"
	KeyStatusPartitions         = "status.storage.partitions"
	KeyKeyConverter             = "key.converter"
	KeyValueConverter           = "value.converter"
	KeyHeaderConverter          = "header.converter"
	KeyListeners                = "listeners"
	KeyAdvertisedHost           = "rest.advertised.host.name"
	KeyAdvertisedPort           = "rest.advertised.port"
	KeyAdvertisedListener       = "rest.advertised.listener"
	KeyOffsetFlushInterval      = "offset.flush.interval.ms"
	KeyOffsetFlushTimeout       = "offset.flush.timeout.ms"
	KeyConfigProviders          = "config.providers"
	KeyTaskShutdownTimeout      = "task.shutdown.graceful.timeout.ms"
	KeySessionTimeout           = "session.timeout.ms"
	KeyHeartbeatInterval        = "heartbeat.interval.ms"
	KeyRebalanceTimeout         = "rebalance.timeout.ms"
	KeyScheduledRebalanceDelay  = "scheduled.rebalance.max.delay.ms"
	KeyPluginPath               = "plugin.path"
	KeyExactlyOnceSourceSupport = "exactly.once.source.support"
	KeyTopicCreationEnable      = "topic.creation.enable"
	KeyClientID                 = "client.id"
)

// Default converter classes, Kafka Connect's.
const (
	JSONConverterClass         = "org.apache.kafka.connect.json.JsonConverter"
	SimpleHeaderConverterClass = "org.apache.kafka.connect.storage.SimpleHeaderConverter"
)

// ConfigDef documents and checks every worker key. Converter keys default to
// JsonConverter (Kafka Connect requires them; Penstock picks its sample
// default). Replication factors default to -1, the broker's default, so a
// one-broker setup works without editing them.
var ConfigDef = config.NewDef(
	config.Key{Name: KeyBootstrapServers, Type: config.List, Default: []string{"localhost:9092"}, Importance: config.High, Group: "Common",
		Doc: "host:port pairs of the brokers to connect to first, comma-separated: Penstock's broker or any Kafka cluster."},
	config.Key{Name: KeyGroupID, Type: config.String, Required: true, Importance: config.High, Group: "Distributed",
		Doc: "The group of workers this worker belongs to; workers sharing it share connectors and tasks."},
	config.Key{Name: KeyConfigTopic, Type: config.String, Required: true, Importance: config.High, Group: "Distributed",
		Doc: "The compacted one-partition topic where connector and task configurations are stored."},
	config.Key{Name: KeyConfigReplication, Type: config.Int, Default: -1, Importance: config.Low, Group: "Distributed",
		Doc: "Replication factor used when creating the config topic (-1: the broker's default)."},
	config.Key{Name: KeyOffsetTopic, Type: config.String, Required: true, Importance: config.High, Group: "Distributed",
		Doc: "The compacted topic where source connector offsets are stored."},
	config.Key{Name: KeyOffsetReplication, Type: config.Int, Default: -1, Importance: config.Low, Group: "Distributed",
		Doc: "Replication factor used when creating the offsets topic (-1: the broker's default)."},
	config.Key{Name: KeyOffsetPartitions, Type: config.Int, Default: 25, Validator: config.AtLeast(1), Importance: config.Low, Group: "Distributed",
		Doc: "Partitions of the offsets topic when it is created."},
	config.Key{Name: KeyStatusTopic, Type: config.String, Required: true, Importance: config.High, Group: "Distributed",
		Doc: "The compacted topic where connector and task statuses are stored."},
	config.Key{Name: KeyStatusReplication, Type: config.Int, Default: -1, Importance: config.Low, Group: "Distributed",
		Doc: "Replication factor used when creating the status topic (-1: the broker's default)."},
	config.Key{Name: KeyStatusPartitions, Type: config.Int, Default: 5, Validator: config.AtLeast(1), Importance: config.Low, Group: "Distributed",
		Doc: "Partitions of the status topic when it is created."},
	config.Key{Name: KeyKeyConverter, Type: config.Class, Default: JSONConverterClass, Importance: config.High, Group: "Common",
		Doc: "Converter for record keys, unless a connector sets its own; key.converter.* properties configure it."},
	config.Key{Name: KeyValueConverter, Type: config.Class, Default: JSONConverterClass, Importance: config.High, Group: "Common",
		Doc: "Converter for record values, unless a connector sets its own; value.converter.* properties configure it."},
	config.Key{Name: KeyHeaderConverter, Type: config.Class, Default: SimpleHeaderConverterClass, Importance: config.Low, Group: "Common",
		Doc: "Converter for header values, unless a connector sets its own; header.converter.* properties configure it."},
	config.Key{Name: KeyListeners, Type: config.List, Default: []string{"http://:8083"}, Importance: config.Low, Group: "REST",
		Doc: "Where the REST API listens, as http://host:port; an empty host means every interface."},
	config.Key{Name: KeyAdvertisedHost, Type: config.String, Default: "", Importance: config.Low, Group: "REST",
		Doc: "Host name other workers use to reach this worker's REST API (default: the listener's host or this machine's name)."},
	config.Key{Name: KeyAdvertisedPort, Type: config.Int, Default: 0, Importance: config.Low, Group: "REST",
		Doc: "Port other workers use to reach this worker's REST API (default: the listener's port)."},
	config.Key{Name: KeyAdvertisedListener, Type: config.String, Default: "", Importance: config.Low, Group: "REST",
		Doc: "Scheme advertised to other workers (http)."},
	config.Key{Name: KeyOffsetFlushInterval, Type: config.Long, Default: int64(60000), Validator: config.AtLeast(1), Importance: config.Low, Group: "Common",
		Doc: "How often source offsets are flushed and sink offsets committed, in milliseconds."},
	config.Key{Name: KeyOffsetFlushTimeout, Type: config.Long, Default: int64(5000), Validator: config.AtLeast(1), Importance: config.Low, Group: "Common",
		Doc: "How long an offset flush may take before it is abandoned and retried at the next interval, in milliseconds."},
	config.Key{Name: KeyConfigProviders, Type: config.List, Default: []string{}, Importance: config.Low, Group: "Common",
		Doc: "Aliases of the config providers connectors may reference as ${alias:[path:]key}; config.providers.<alias>.class names each (EnvVarConfigProvider, FileConfigProvider)."},
	config.Key{Name: KeyTaskShutdownTimeout, Type: config.Long, Default: int64(5000), Validator: config.AtLeast(0), Importance: config.Low, Group: "Common",
		Doc: "How long a stopping task may take to finish its in-flight work, in milliseconds."},
	config.Key{Name: KeySessionTimeout, Type: config.Int, Default: 10000, Importance: config.High, Group: "Distributed",
		Doc: "Group session timeout, in milliseconds."},
	config.Key{Name: KeyHeartbeatInterval, Type: config.Int, Default: 3000, Importance: config.High, Group: "Distributed",
		Doc: "Group heartbeat interval, in milliseconds."},
	config.Key{Name: KeyRebalanceTimeout, Type: config.Int, Default: 60000, Importance: config.High, Group: "Distributed",
		Doc: "How long workers may take to rejoin the group in a rebalance, in milliseconds."},
	config.Key{Name: KeyScheduledRebalanceDelay, Type: config.Int, Default: 300000, Importance: config.Low, Group: "Distributed",
		Doc: "How long a departed worker's connectors and tasks wait before they are reassigned, in milliseconds."},
	config.Key{Name: KeyPluginPath, Type: config.List, Default: []string{}, Importance: config.Low, Group: "Common",
		Doc: "Accepted for compatibility and ignored: Penstock's plugins are built in."},
	config.Key{Name: KeyExactlyOnceSourceSupport, Type: config.String, Default: "disabled", Validator: config.OneOf("disabled", "preparing", "enabled"), Importance: config.High, Group: "Distributed",
		Doc: "Exactly-once support for source connectors (not yet implemented: only disabled takes effect)."},
	config.Key{Name: KeyTopicCreationEnable, Type: config.Boolean, Default: true, Importance: config.Low, Group: "Common",
		Doc: "Whether source connectors may create their topics with topic.creation.* settings."},
	config.Key{Name: KeyClientID, Type: config.String, Default: "", Importance: config.Low, Group: "Common",
		Doc: "Prefix of the client ids of the worker's Kafka clients."},
)

// Config is a parsed worker configuration.
type Config struct {
	// Props are every property given, including prefixed ones such as
	// key.converter.schemas.enable and config.providers.file.class.
	Props map[string]string

	BootstrapServers  []string
	GroupID           string
	ConfigTopic       string
	ConfigReplication int16
	OffsetTopic       string
	OffsetReplication int16
	OffsetPartitions  int32
	StatusTopic       string
	StatusReplication int16
	StatusPartitions  int32
	KeyConverter      string
	ValueConverter    string
	HeaderConverter   string
	Listeners         []string
	AdvertisedHost    string
	AdvertisedPort    int
	OffsetFlushEvery  time.Duration
	OffsetFlushLimit  time.Duration
	ConfigProviders   []string
	TaskShutdownLimit time.Duration
	TopicCreation     bool
	ClientID          string

	// Group membership (distributed workers).
	SessionTimeout          time.Duration
	HeartbeatInterval       time.Duration
	RebalanceTimeout        time.Duration
	ScheduledRebalanceDelay time.Duration
}

// ParseConfig checks props against ConfigDef and returns the worker config.
func ParseConfig(props map[string]string) (*Config, error) {
	v, err := ConfigDef.Parse(props)
	if err != nil {
		return nil, fmt.Errorf("worker config: %w", err)
	}
	c := &Config{
		Props:             props,
		BootstrapServers:  v.List(KeyBootstrapServers),
		GroupID:           v.String(KeyGroupID),
		ConfigTopic:       v.String(KeyConfigTopic),
		ConfigReplication: int16(v.Int(KeyConfigReplication)),
		OffsetTopic:       v.String(KeyOffsetTopic),
		OffsetReplication: int16(v.Int(KeyOffsetReplication)),
		OffsetPartitions:  int32(v.Int(KeyOffsetPartitions)),
		StatusTopic:       v.String(KeyStatusTopic),
		StatusReplication: int16(v.Int(KeyStatusReplication)),
		StatusPartitions:  int32(v.Int(KeyStatusPartitions)),
		KeyConverter:      v.String(KeyKeyConverter),
		ValueConverter:    v.String(KeyValueConverter),
		HeaderConverter:   v.String(KeyHeaderConverter),
		Listeners:         v.List(KeyListeners),
		AdvertisedHost:    v.String(KeyAdvertisedHost),
		AdvertisedPort:    v.Int(KeyAdvertisedPort),
		OffsetFlushEvery:  time.Duration(v.Long(KeyOffsetFlushInterval)) * time.Millisecond,
		OffsetFlushLimit:  time.Duration(v.Long(KeyOffsetFlushTimeout)) * time.Millisecond,
		ConfigProviders:   v.List(KeyConfigProviders),
		TaskShutdownLimit: time.Duration(v.Long(KeyTaskShutdownTimeout)) * time.Millisecond,
		TopicCreation:     v.Bool(KeyTopicCreationEnable),
		ClientID:          v.String(KeyClientID),

		SessionTimeout:          time.Duration(v.Int(KeySessionTimeout)) * time.Millisecond,
		HeartbeatInterval:       time.Duration(v.Int(KeyHeartbeatInterval)) * time.Millisecond,
		RebalanceTimeout:        time.Duration(v.Int(KeyRebalanceTimeout)) * time.Millisecond,
		ScheduledRebalanceDelay: time.Duration(v.Int(KeyScheduledRebalanceDelay)) * time.Millisecond,
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 3 * time.Second
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.RebalanceTimeout <= 0 {
		c.RebalanceTimeout = 60 * time.Second
	}
	if c.ScheduledRebalanceDelay < 0 {
		c.ScheduledRebalanceDelay = 0
	}
	if len(c.BootstrapServers) == 0 {
		return nil, fmt.Errorf("worker config: %s is empty", KeyBootstrapServers)
	}
	if c.ConfigTopic == c.OffsetTopic || c.ConfigTopic == c.StatusTopic || c.OffsetTopic == c.StatusTopic {
		return nil, fmt.Errorf("worker config: %s, %s and %s must name three different topics", KeyConfigTopic, KeyOffsetTopic, KeyStatusTopic)
	}
	return c, nil
}

// LoadConfig reads a Kafka-style properties file and parses it.
func LoadConfig(path string) (*Config, error) {
	props, err := properties.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("worker config: %w", err)
	}
	c, err := ParseConfig(props)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// DevProps are Kafka Connect's connect-distributed.properties sample
// settings, what `penstock dev` runs with: JsonConverter with schemas, group
// connect-cluster, topics connect-configs/offsets/status, replication 1.
func DevProps(bootstrap string) map[string]string {
	return map[string]string{
		KeyBootstrapServers:              bootstrap,
		KeyGroupID:                       "connect-cluster",
		KeyKeyConverter:                  JSONConverterClass,
		KeyValueConverter:                JSONConverterClass,
		"key.converter.schemas.enable":   "true",
		"value.converter.schemas.enable": "true",
		KeyConfigTopic:                   "connect-configs",
		KeyConfigReplication:             "1",
		KeyOffsetTopic:                   "connect-offsets",
		KeyOffsetReplication:             "1",
		KeyStatusTopic:                   "connect-status",
		KeyStatusReplication:             "1",
		KeyOffsetFlushInterval:           "10000",
		KeyConfigProviders:               "env,file",
	}
}

// Prefixed returns the properties under prefix with the prefix removed (for
// example the key.converter.* properties of the key converter).
func Prefixed(props map[string]string, prefix string) map[string]string {
	return config.WithPrefix(props, prefix)
}

// ListenAddr returns the host:port of the first listener, for the REST server.
func (c *Config) ListenAddr() string {
	if len(c.Listeners) == 0 {
		return ":8083"
	}
	l := c.Listeners[0]
	l = strings.TrimPrefix(strings.TrimPrefix(l, "http://"), "https://")
	return strings.TrimSuffix(l, "/")
}

// AdvertisedURL returns the REST URL other workers use to reach this one.
func (c *Config) AdvertisedURL() string {
	host, port := splitHostPort(c.ListenAddr())
	if c.AdvertisedHost != "" {
		host = c.AdvertisedHost
	}
	if c.AdvertisedPort != 0 {
		port = strconv.Itoa(c.AdvertisedPort)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if h, err := os.Hostname(); err == nil {
			host = h
		} else {
			host = "localhost"
		}
	}
	scheme := "http://"
	if c.restTLS() {
		scheme = "https://"
	}
	return scheme + host + ":" + port + "/"
}

func splitHostPort(addr string) (string, string) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr, "8083"
	}
	return strings.Trim(addr[:i], "[]"), addr[i+1:]
}
