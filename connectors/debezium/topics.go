package debezium

import (
	"time"

	"github.com/penstockhq/penstock/connect"
)

// DefaultHeartbeatTopicsPrefix is the default of heartbeat.topics.prefix.
const DefaultHeartbeatTopicsPrefix = "__debezium-heartbeat"

// HeartbeatTopic returns the heartbeat topic <topicsPrefix>.<topic.prefix>.
func HeartbeatTopic(topicsPrefix, topicPrefix string) string {
	return topicsPrefix + "." + topicPrefix
}

var (
	heartbeatKeySchema = func() *connect.Schema {
		s := connect.NewStructSchema("io.debezium.connector.common.ServerNameKey", connect.F("serverName", connect.StringSchema))
		s.Version = 1
		return s
	}()
	heartbeatValueSchema = func() *connect.Schema {
		s := connect.NewStructSchema("io.debezium.connector.common.Heartbeat", connect.F("ts_ms", connect.Int64Schema))
		s.Version = 1
		return s
	}()
)

// Heartbeat returns a heartbeat record on topic for the logical server
// serverName (topic.prefix) at now: key {serverName}, value {ts_ms}. The
// caller sets the source partition and an offset carrying the position the
// connector has fully processed, so committing it moves the database's
// retained position while captured tables are idle.
func Heartbeat(topic, serverName string, now time.Time) *connect.Record {
	key := connect.NewStruct(heartbeatKeySchema)
	key.SetAt(0, serverName)
	val := connect.NewStruct(heartbeatValueSchema)
	val.SetAt(0, now.UnixMilli())
	return &connect.Record{Topic: topic, Partition: -1,
		KeySchema: heartbeatKeySchema, Key: key, ValueSchema: heartbeatValueSchema, Value: val}
}

// TransactionTopic returns the topic of transaction metadata events
// (provide.transaction.metadata): <topic.prefix>.transaction.
func TransactionTopic(topicPrefix string) string { return topicPrefix + ".transaction" }

// Values of a transaction metadata event's status.
const (
	TxBegin = "BEGIN"
	TxEnd   = "END"
)

var (
	txKeySchema = func() *connect.Schema {
		s := connect.NewStructSchema("io.debezium.connector.common.TransactionMetadataKey", connect.F("id", connect.StringSchema))
		s.Version = 1
		return s
	}()
	txCollectionSchema = func() *connect.Schema {
		s := connect.NewStructSchema("event.collection",
			connect.F("data_collection", connect.StringSchema), connect.F("event_count", connect.Int64Schema))
		s.Version = 1
		return s
	}()
	txValueSchema = func() *connect.Schema {
		s := connect.NewStructSchema("io.debezium.connector.common.TransactionMetadataValue",
			connect.F("status", connect.StringSchema),
			connect.F("id", connect.StringSchema),
			connect.F("event_count", connect.OptionalInt64Schema),
			connect.F("data_collections", connect.OptionalOf(connect.ArrayOf(txCollectionSchema))),
			connect.F("ts_ms", connect.Int64Schema))
		s.Version = 1
		return s
	}()
)

// CollectionCount is how many events of one table (data collection, e.g.
// "public.orders" or "inventory.orders") a transaction emitted.
type CollectionCount struct {
	Collection string
	Events     int64
}

// TransactionBegin returns the BEGIN event of transaction id on topic
// (TransactionTopic), committed at ts.
func TransactionBegin(topic, id string, ts time.Time) *connect.Record {
	return txRecord(topic, TxBegin, id, ts, nil)
}

// TransactionEnd returns the END event of transaction id with the number of
// events it emitted per table.
func TransactionEnd(topic, id string, ts time.Time, counts []CollectionCount) *connect.Record {
	if counts == nil {
		counts = []CollectionCount{}
	}
	return txRecord(topic, TxEnd, id, ts, counts)
}

func txRecord(topic, status, id string, ts time.Time, counts []CollectionCount) *connect.Record {
	key := connect.NewStruct(txKeySchema)
	key.SetAt(0, id)
	val := connect.NewStruct(txValueSchema)
	val.SetAt(0, status)
	val.SetAt(1, id)
	val.SetAt(4, ts.UnixMilli())
	if counts != nil {
		var total int64
		cols := make([]any, len(counts))
		for i, c := range counts {
			st := connect.NewStruct(txCollectionSchema)
			st.SetAt(0, c.Collection)
			st.SetAt(1, c.Events)
			cols[i] = st
			total += c.Events
		}
		val.SetAt(2, total)
		val.SetAt(3, cols)
	}
	return &connect.Record{Topic: topic, Partition: -1,
		KeySchema: txKeySchema, Key: key, ValueSchema: txValueSchema, Value: val}
}
