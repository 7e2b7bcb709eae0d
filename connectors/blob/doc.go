// Package blob is Penstock's object storage sink: it exports topics as
// objects that warehouses load or query in place (Snowflake, BigQuery,
// Redshift, Athena, Spark, DuckDB, ClickHouse), on S3 and S3-compatible
// servers, Google Cloud Storage, Azure Blob Storage, local files or memory,
// through gocloud.dev's blob package. It runs configurations written for
// Confluent's S3, GCS and Azure Blob Storage sinks unchanged: their class
// names are its aliases and their keys its keys.
//
// # Objects
//
// An object is named as Confluent names it:
//
//	<topics.dir>/<topic>/<encodedPartition>/<topic>+<kafkaPartition>+<startOffset>.<ext>
//
// with the start offset zero-padded to filename.offset.zero.pad.width (10)
// digits and the encoded partition from partitioner.class (partition=N,
// field=value, or a time formatted by path.format). Formats: JsonFormat (a
// value per line, as JsonConverter writes it without schemas; s3.compression.type
// gzip or zstd), ParquetFormat (columns from the value's Connect schema with
// DECIMAL, DATE, TIME and TIMESTAMP logical types; parquet.codec snappy,
// gzip, zstd or none; row groups written out every parquet.row.group.bytes),
// AvroFormat (object container files, avro.codec null, deflate, snappy or
// zstandard), CsvFormat (Penstock: struct fields with a header row), and ByteArrayFormat.
// Schemaless values (JsonConverter with schemas.enable=false) go to JSON
// lines; ParquetFormat, AvroFormat and CsvFormat report them as records the format cannot
// hold (dead letter queue, or a task failure naming topic, partition and
// offset): a columnar file needs its schema before its first row, and
// Penstock does not guess one.
//
// # Exactly once
//
// Each Kafka partition has one open set of objects (one per encoded
// partition). The set is closed when flush.size records were written, when
// rotate.interval.ms of record time passed or a time-based partitioner moves
// to another period, when the value schema changes (schema.compatibility),
// or at rotate.schedule.interval.ms wall-clock times. Closing uploads each
// object whole (gocloud's writer commits on Close: a multipart upload is
// completed, a file renamed; no partial object is ever visible), and only
// then does PreCommit let the runtime commit the consumer offset past the
// set. Open objects are never uploaded early, not on Flush or Stop. After a
// crash the task reads again from the committed offset, the first record of
// the set that was open, and cuts the same objects with the same names and
// the same bytes (map entries are written in key order, Avro's sync marker
// is derived from the schema), overwriting any it had uploaded: every record lands in
// exactly one object.
//
// This holds when the cuts depend on the records only: flush.size,
// rotate.interval.ms with timestamp.extractor Record or RecordField (or
// with the Default and Field partitioners, which measure it on the Kafka
// timestamp), schema changes, and every partitioner whose time comes from
// the record. It does not hold with rotate.schedule.interval.ms or with
// timestamp.extractor=Wallclock: after a crash objects may be cut
// elsewhere and a record may be in two objects. The task logs a warning at
// start for those settings. Records reported to the dead letter queue may be
// reported again after a crash.
//
// A failed upload is never skipped: the partition's open set is discarded,
// the partition is rewound to the set's first record, and after a backoff
// (retry.backoff.ms, doubling to a minute) the objects are written again
// from Kafka, whole. Each failure is logged as a warning naming the
// partition, offset and attempt; the task stays RUNNING meanwhile (a sink
// task has no way to report a degraded state). After s3.part.retries (3)
// retries in a row have failed, the task fails with the store's error as
// its trace in GET /connectors/{name}/status; restarted, it writes the
// objects again from the committed offsets. s3.part.retries=-1 retries
// forever.
//
// # Restore
//
// SourceConnector (Confluent's S3 Source class name, in its
// backup-and-restore mode) reads the objects back, per Kafka partition in
// the order of their start offsets, into the topic and partition their
// names say (RegexRouter renames the topic). JsonFormat values come back
// schemaless, ByteArrayFormat values as bytes, ParquetFormat and AvroFormat
// values with their Connect schemas: the sink keeps the value schema, as
// JsonConverter writes schemas, in each Parquet file's key-value metadata
// and each Avro file's header (penstock.connect.schema). A Parquet object
// is spooled to a temporary file and read from there, an Avro one block by
// block, so objects of any size are read in bounded memory. Keys, headers
// and timestamps come from the side objects store.kafka.keys and store.kafka.headers make:
// Penstock keeps them in one <object>.kafka.json per data object (offset,
// timestamp, key and headers as JsonConverter envelopes with schemas, a line
// per record), uploaded before the data object, where Confluent writes
// separate .keys and .headers objects. The source's offset is the object's
// name and the number of its records produced, so it resumes mid-object:
// it passes over whole Avro blocks and Parquet row groups without decoding
// them (the records before the offset in its own block or row group are
// decoded, not converted). A store error listing the objects or opening one
// (its data or side object) is retried in place, with a warning, until the
// object can be read: an object is never passed over, even one deleted
// after it was listed. An object that does not decode fails the task,
// naming the object, and so does an error inside an object: the restarted
// task resumes from the committed offsets.
//
// Memory: an open object holds one upload part (s3.part.size, 5 MiB) and,
// for Parquet, its buffered row group; tasks with many open objects (a
// FieldPartitioner over many values) need that much per object.
//
// Speed: a Parquet object past its first few thousand values is encoded and
// compressed on a goroutine of its own while Put gathers the next records
// (up to three sets of 8,192 values, about 600 KB, per object, each handed
// on once it refers to 1 MiB of the records' strings and bytes, checked
// every 64 records), so a task uses a second core; records the format
// cannot hold are still found, and reported, in Put.
package blob
