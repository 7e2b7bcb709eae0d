// Package elasticsearch is Penstock's Elasticsearch sink connector. It takes
// the configuration keys of Confluent's Elasticsearch sink and answers to its
// class, io.confluent.connect.elasticsearch.ElasticsearchSinkConnector (and
// to the alias "elasticsearch"), so Confluent configurations run unchanged
// where the feature exists; where it does not (data streams, JKS and PKCS12
// stores) validation names the key.
//
// # Documents
//
// The index of a record is its topic, lowercased; topic.index.map
// (Confluent 5.x's "topic:index,...") overrides it per topic, and
// index.name.format (a Penstock extension, e.g. "cdc-${topic}") sets the
// pattern for the others.
//
// With key.ignore=false (the default) the document id is the record key: a
// primitive as its string form, a struct or map with one field as that
// field's value, any other struct or map as canonical JSON with sorted keys.
// Every write of the document (index, delete, partial write) sends the
// record's Kafka offset as the document's version with
// version_type=external, so the stored _version is always the offset of the
// record the document reflects, and a redelivered or reordered record can
// never make a document go back in time: Elasticsearch refuses it with a 409
// version conflict, which the task counts as success (the stored document
// provably reflects this record or a later one). With key.ignore=true the id
// is topic+partition+offset and no version is sent.
//
// Values become JSON documents: structs field by field, maps with sorted
// keys, arrays, bytes as base64; Decimal as a JSON number with its exact
// digits, Timestamp as epoch milliseconds, Date as an ISO date, Time as an
// ISO time of day, and Debezium's time types likewise. Schemaless maps are
// written as they are. With schema.ignore=false an index that does not exist
// is created, before its first write, with a mapping derived from the value
// schema (strings as text with a keyword sub-field, as Confluent does).
//
// # Change events
//
// Records after Debezium's unwrap transform (flat rows; tombstones for
// deletes with behavior.on.null.values=DELETE) and Debezium envelopes (a
// value with before, after and op) both work: for an envelope, op d deletes
// the document of the key, c, u and r index after, t and m are skipped.
//
// Columns whose values the source did not have (unchanged TOASTed columns
// in Postgres: the value is "__debezium_unavailable_value", or the column is
// listed in the record header penstock.unavailable.columns) are never
// written: the record becomes a partial write without them, so the
// document keeps their earlier values. Elasticsearch's update API accepts
// no external version, so a partial write is not an update: the task reads
// the stored documents (one _mget for the partial writes ready together),
// replaces their top-level fields the record has, and indexes the result
// with the record's offset as external version; when the stored _version is
// already at or past the offset, nothing is written. write.method=UPSERT
// sends every record that way (without a key, the document is the record's
// own and is indexed whole).
//
// # Writing and committing
//
// Operations go through go-elasticsearch's bulk indexer with
// max.in.flight.requests workers, requests cut at bulk.size.bytes or after
// linger.ms. At most one operation per document is in flight: one for a
// document whose previous operation is not yet acknowledged waits, and
// further ones collapse into it (last wins; a partial update merges into
// what it follows). So one bulk request never holds two operations on one
// document, and operations on one document reach Elasticsearch in order.
//
// Requests refused with 429 or 5xx are retried by the client, items refused
// with 429 or 5xx by the task, each up to max.retries times with exponential
// backoff from retry.backoff.ms and random jitter; then the task fails.
// Other per-document refusals are reported to the task context (the dead
// letter queue or a task failure, per errors.tolerance); malformed documents
// (mapping and parsing errors) follow behavior.on.malformed.documents.
//
// The task implements connect.SinkPreCommitter: the offsets it lets the
// runtime commit are those below the first record Elasticsearch has not yet
// acknowledged (or that was not yet reported), so a restarted task resumes
// without losing a record.
//
// # TLS
//
// elastic.security.protocol=SSL enables TLS settings for https:// URLs:
// elastic.https.ssl.truststore.location is a PEM file of CA certificates,
// elastic.https.ssl.keystore.location a PEM file with the client
// certificate and its unencrypted key, and an empty
// elastic.https.ssl.endpoint.identification.algorithm turns off host name
// verification (the chain is still verified). Only the PEM store type is
// supported.
//
// # Testing against ZincSearch
//
// The integration tests use ZincSearch, whose Elasticsearch API differs: it
// loses a delete of a document indexed in the same bulk request or within
// its WAL sync interval, has no GET of a document by id, and has no versions
// or item errors. Those paths are tested against a fake server keeping
// documents, versions and conflicts as Elasticsearch documents them and
// answering with its documented bulk responses.
package elasticsearch
