package broker

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/penstockhq/penstock/broker/storage"
	"github.com/penstockhq/penstock/internal/properties"
)

// Config is the broker's settings. LoadConfig reads them from a Kafka-style
// properties file; the zero value plus DataDir is usable (Kafka's defaults).
type Config struct {
	// DataDir holds meta.properties and one directory per topic
	// (log.dirs / log.dir).
	DataDir string
	// Listen is the TCP address to listen on; default 127.0.0.1:9092.
	Listen string
	// Advertise is the host:port given to clients in Metadata; defaults
	// to the listener's address.
	Advertise string
	// NodeID is this broker's id (node.id or broker.id, default 0).
	NodeID int32
	// AutoCreateTopics creates unknown topics on Metadata requests
	// (auto.create.topics.enable, default true).
	AutoCreateTopics bool
	// NumPartitions is the partition count of auto-created topics and of
	// CreateTopics requests that ask for the default (num.partitions).
	NumPartitions int32
	// Log holds the topic defaults (log.segment.bytes, log.roll.ms,
	// log.retention.ms, log.retention.bytes, message.max.bytes, ...).
	Log storage.Config
	// CleanupPolicy is the default cleanup.policy (log.cleanup.policy).
	CleanupPolicy string
	// RetentionCheckInterval is how often retention runs
	// (log.retention.check.interval.ms, default 5 minutes).
	RetentionCheckInterval time.Duration
	// MaxRequestBytes is the largest request frame accepted
	// (socket.request.max.bytes, default 100 MiB); larger frames close
	// the connection.
	MaxRequestBytes int32
	// Logger receives the broker's logs; default slog.Default().
	Logger *slog.Logger
	// Props holds every property from the file, for settings a later
	// component reads itself (group coordinator, transactions).
	Props map[string]string
	// Metrics, when set, receives the broker's Prometheus metrics
	// (penstock_broker_*).
	Metrics prometheus.Registerer
	// FS is where the data directory's files are; nil means the operating
	// system's. Crash tests give a storage.FaultFS.
	FS storage.FS
}

// DefaultConfig returns a Config with Kafka's defaults and no DataDir.
func DefaultConfig() Config {
	return Config{
		Listen:                 "127.0.0.1:9092",
		AutoCreateTopics:       true,
		NumPartitions:          1,
		Log:                    storage.DefaultConfig(),
		CleanupPolicy:          "delete",
		RetentionCheckInterval: 5 * time.Minute,
		MaxRequestBytes:        100 << 20,
		Props:                  map[string]string{},
	}
}

// LoadConfig reads a Kafka-style properties file over DefaultConfig. An
// empty path returns the defaults.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	if path == "" {
		return cfg, nil
	}
	props, err := properties.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("broker config: %w", err)
	}
	if err := cfg.Apply(props); err != nil {
		return cfg, fmt.Errorf("broker config %s: %w", path, err)
	}
	return cfg, nil
}

// Apply sets the fields named by Kafka broker property keys. Unknown keys
// are kept in Props and logged by the server at start.
func (c *Config) Apply(props map[string]string) error {
	if c.Props == nil {
		c.Props = map[string]string{}
	}
	// Units: Kafka lets .ms override .minutes override .hours.
	for _, k := range []string{"log.retention.hours", "log.retention.minutes", "log.retention.ms", "log.roll.hours", "log.roll.ms"} {
		v, ok := props[k]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		switch k {
		case "log.retention.hours":
			c.Log.RetentionMs = n * 3600_000
		case "log.retention.minutes":
			c.Log.RetentionMs = n * 60_000
		case "log.retention.ms":
			c.Log.RetentionMs = n
		case "log.roll.hours":
			c.Log.SegmentMs = n * 3600_000
		case "log.roll.ms":
			c.Log.SegmentMs = n
		}
	}
	for k, v := range props {
		c.Props[k] = v
		v = strings.TrimSpace(v)
		var err error
		switch k {
		case "log.dirs", "log.dir":
			c.DataDir = strings.Split(v, ",")[0]
		case "node.id", "broker.id":
			var n int64
			n, err = strconv.ParseInt(v, 10, 32)
			c.NodeID = int32(n)
		case "listeners":
			c.Listen = stripListenerScheme(v)
		case "advertised.listeners":
			c.Advertise = stripListenerScheme(v)
		case "auto.create.topics.enable":
			c.AutoCreateTopics, err = strconv.ParseBool(v)
		case "num.partitions":
			var n int64
			n, err = strconv.ParseInt(v, 10, 32)
			if err == nil && n < 1 {
				err = fmt.Errorf("must be at least 1")
			}
			c.NumPartitions = int32(n)
		case "log.segment.bytes":
			c.Log.SegmentBytes, err = strconv.ParseInt(v, 10, 64)
		case "log.retention.bytes":
			c.Log.RetentionBytes, err = strconv.ParseInt(v, 10, 64)
		case "message.max.bytes":
			var n int64
			n, err = strconv.ParseInt(v, 10, 32)
			c.Log.MaxMessageBytes = int32(n)
		case "log.index.interval.bytes":
			c.Log.IndexIntervalBytes, err = strconv.ParseInt(v, 10, 64)
		case "log.message.timestamp.type":
			c.Log.LogAppendTime, err = parseTimestampType(v)
		case visibilityKey:
			c.Log.ReadUnsynced, err = parseVisibility(v)
		case "log.cleanup.policy":
			c.CleanupPolicy = v
		case "log.retention.check.interval.ms":
			var n int64
			n, err = strconv.ParseInt(v, 10, 64)
			c.RetentionCheckInterval = time.Duration(n) * time.Millisecond
		case "file.delete.delay.ms", "log.segment.delete.delay.ms":
			var n int64
			n, err = strconv.ParseInt(v, 10, 64)
			c.Log.FileDeleteDelay = time.Duration(n) * time.Millisecond
		case "socket.request.max.bytes":
			var n int64
			n, err = strconv.ParseInt(v, 10, 32)
			c.MaxRequestBytes = int32(n)
		}
		if err != nil {
			return fmt.Errorf("%s=%q: %w", k, v, err)
		}
	}
	return nil
}

func parseTimestampType(v string) (bool, error) {
	switch v {
	case "CreateTime":
		return false, nil
	case "LogAppendTime":
		return true, nil
	}
	return false, fmt.Errorf("must be CreateTime or LogAppendTime")
}

// visibilityKey is the broker and topic setting choosing what consumers
// see: "synced" (the default, as Redpanda) ends the high watermark at the
// last fsynced record; "written" (Kafka's behaviour) at the last written
// one, which saves consumers the wait for the fsync but lets them read
// records a power loss can take away and whose offsets are then reused.
const visibilityKey = "penstock.visibility"

func parseVisibility(v string) (bool, error) {
	switch v {
	case "synced":
		return false, nil
	case "written":
		return true, nil
	}
	return false, fmt.Errorf("must be synced or written")
}

func visibilityName(readUnsynced bool) string {
	if readUnsynced {
		return "written"
	}
	return "synced"
}

// stripListenerScheme turns "PLAINTEXT://host:port[,...]" into "host:port".
func stripListenerScheme(v string) string {
	v = strings.Split(v, ",")[0]
	if i := strings.Index(v, "://"); i >= 0 {
		v = v[i+3:]
	}
	return v
}
