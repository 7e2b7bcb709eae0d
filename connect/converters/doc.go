// Package converters holds Penstock's converters: the code that turns a
// record's key, value or header between its Connect form (a *connect.Schema
// and a Go value) and the bytes stored in Kafka. They behave as Kafka
// Connect's converters of the same name, so topics written by either can be
// read by the other:
//
//   - JSON: org.apache.kafka.connect.json.JsonConverter, with the
//     {"schema":...,"payload":...} envelope when schemas.enable=true.
//   - String: org.apache.kafka.connect.storage.StringConverter.
//   - ByteArray: org.apache.kafka.connect.converters.ByteArrayConverter.
//   - SimpleHeader: org.apache.kafka.connect.storage.SimpleHeaderConverter,
//     the default header converter.
//
// Every converter is safe for concurrent use once configured.
package converters
