package connect

// Converter turns a record's key or value between its Connect form (schema
// and value) and the bytes stored in Kafka. One instance serves either keys
// or values, as Configure says.
type Converter interface {
	Configurable
	// Configure applies the converter's properties (the key.converter.* or
	// value.converter.* properties with the prefix removed).
	Configure(props map[string]string, isKey bool) error
	// FromConnect serializes v of schema s (nil: schemaless) for topic.
	// A nil v with no schema serializes to nil (a tombstone).
	FromConnect(topic string, s *Schema, v any) ([]byte, error)
	// ToConnect deserializes data read from topic into a schema and value.
	ToConnect(topic string, data []byte) (*Schema, any, error)
}

// AliasingConverter is implemented by converters that can read a value
// without copying it: the value ToConnectAliased returns may share data's
// memory. A caller uses it only for data nobody modifies afterwards, such as
// the records a sink task's consumer fetched (franz-go does not reuse them);
// a value kept then keeps the fetched bytes in memory, as
// ByteArrayConverter's values always do.
type AliasingConverter interface {
	Converter
	ToConnectAliased(topic string, data []byte) (*Schema, any, error)
}

// HeaderConverter turns header values between their Connect form and bytes.
type HeaderConverter interface {
	Configurable
	Configure(props map[string]string) error
	FromConnectHeader(topic, key string, s *Schema, v any) ([]byte, error)
	ToConnectHeader(topic, key string, data []byte) (*Schema, any, error)
}

// Transformation reshapes one record at a time (a single message transform).
type Transformation interface {
	Configurable
	Configure(props map[string]string) error
	// Apply returns the transformed record, rec itself when unchanged, or nil
	// to drop it. It must not modify rec: change a Clone. An error (a value of
	// the wrong type, a missing field) is routed by the connector's errors.*
	// settings; it must name the field or record at fault.
	Apply(rec *Record) (*Record, error)
	Close() error
}

// Predicate decides whether a transformation applies to a record.
type Predicate interface {
	Configurable
	Configure(props map[string]string) error
	Test(rec *Record) bool
	Close() error
}
