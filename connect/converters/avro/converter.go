// Package avro is Confluent's AvroConverter: Connect records as Avro in
// Confluent's wire format (magic byte 0, a 4-byte schema id, the Avro
// binary datum), their schemas registered in a Schema Registry.
//
// The Connect-to-Avro schema mapping is Confluent's AvroData with
// connect.meta.data=true: optional schemas become unions with null (null
// first and a null default, or the type first when the field has a
// default), int8 and int16 are ints with connect.type, Decimal is bytes with
// the decimal logical type (precision from connect.decimal.precision, else
// 64), Date, Time and Timestamp carry the date, time-millis and
// timestamp-millis logical types, maps with string keys are Avro maps and
// other maps arrays of io.confluent.connect.avro.MapEntry records, and every
// schema keeps its Connect name, version, doc and parameters in connect.name,
// connect.version, connect.doc and connect.parameters, so that reading gives
// back the same Connect schema (Debezium's io.debezium.* semantic types
// included). Unnamed structs are io.confluent.connect.avro.ConnectDefault
// records; characters Avro names do not allow become '_'. Where Penstock
// differs: Debezium's Enum stays a string with its allowed values in
// connect.parameters; with enhanced.avro.schema.support, strings carrying
// Confluent's io.confluent.connect.avro.Enum parameters (what reading an
// Avro enum gives) are written as Avro enums, their symbols sorted.
//
// Records are encoded straight from the Connect value (appendDatum) and
// decoded straight into it (readDatum), with hamba/avro for what those do
// not cover (enums, fixed, other unions, writer schemas with extra fields).
// Schema ids are cached per schema and subject, schemas per id.
package avro

import (
	"fmt"

	havro "github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/connect/converters/srclient"
)

// Keys the AvroConverter takes beyond srclient's.
const (
	KeyConnectMetaData  = "connect.meta.data"
	KeyEnhancedAvro     = "enhanced.avro.schema.support"
	KeySchemasCacheSize = "schemas.cache.config"
)

var def = srclient.Def.With(
	config.Key{Name: KeyConnectMetaData, Type: config.Boolean, Default: true, Importance: config.Low,
		Doc: "Toggle for enabling/disabling connect converter to add its meta data to the output schema or not. Penstock always writes it."},
	config.Key{Name: KeyEnhancedAvro, Type: config.Boolean, Default: false, Importance: config.Low,
		Doc: "Enable enhanced schema support to preserve package information and Enums: Connect strings with the io.confluent.connect.avro.Enum parameters are written as Avro enums (symbols sorted: Penstock's Connect parameters keep no order)."},
	config.Key{Name: KeySchemasCacheSize, Type: config.Int, Default: 1000, Validator: config.AtLeast(0), Importance: config.Low,
		Doc: "Size of the converted schemas cache. Penstock caches every schema it saw."},
)

// Converter is io.confluent.connect.avro.AvroConverter.
type Converter struct {
	cl       *srclient.Client
	isKey    bool
	enhanced bool // enhanced.avro.schema.support

	writes srclient.Cache[*connect.Schema, *writeSchema]
	reads  srclient.Cache[int, *readSchema]
}

var _ connect.Converter = (*Converter)(nil)

// writeSchema is a Connect schema's Avro form, ready to encode.
type writeSchema struct {
	text   string
	avro   havro.Schema
	codec  havro.API
	record string // full record name, for the record name strategies
}

// readSchema is a registered schema, ready to decode.
type readSchema struct {
	avro    havro.Schema
	codec   havro.API
	connect *connect.Schema
}

// newCodec returns a codec for one schema. Every schema gets its own:
// hamba/avro caches the encoder of a union holding a named reference by the
// name alone, so with one shared cache a later schema redefining a record
// (a table with a new column) would be written with an earlier schema's
// encoder.
func newCodec() havro.API { return havro.Config{}.Freeze() }

// New returns an unconfigured AvroConverter.
func New() *Converter { return &Converter{} }

// Config returns the converter's keys.
func (c *Converter) Config() *config.Def { return def }

// Configure applies the properties.
func (c *Converter) Configure(props map[string]string, isKey bool) error {
	v, err := def.Parse(props)
	if err != nil {
		return fmt.Errorf("AvroConverter: %w", err)
	}
	cl, err := srclient.New(v, isKey)
	if err != nil {
		return fmt.Errorf("AvroConverter: %w", err)
	}
	c.cl, c.isKey, c.enhanced = cl, isKey, v.Bool(KeyEnhancedAvro)
	c.writes, c.reads = srclient.Cache[*connect.Schema, *writeSchema]{}, srclient.Cache[int, *readSchema]{}
	return nil
}

// FromConnect serializes v of schema s for topic: the wire format's header
// with the schema's id (registered or looked up per the configuration),
// then the Avro datum. A nil value serializes to nil (a tombstone), whatever
// its schema, as Confluent's serializer does.
func (c *Converter) FromConnect(topic string, s *connect.Schema, v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	b, err := c.fromConnect(topic, s, v)
	if err != nil {
		return nil, fmt.Errorf("converting %s of topic %q to Avro: %w", srclient.What(c.isKey), topic, err)
	}
	return b, nil
}

func (c *Converter) fromConnect(topic string, s *connect.Schema, v any) ([]byte, error) {
	if s == nil {
		return nil, fmt.Errorf("a schemaless %T has no Avro schema; AvroConverter needs records with schemas", v)
	}
	ws, err := c.writes.Get(s, func() (*writeSchema, error) { return newWriteSchema(s, c.enhanced) })
	if err != nil {
		return nil, err
	}
	subject, err := c.cl.Subject(topic, ws.record)
	if err != nil {
		return nil, err
	}
	id, registered, err := c.cl.ID(subject, sr.Schema{Schema: ws.text})
	if err != nil {
		return nil, err
	}
	as, codec := ws.avro, ws.codec
	if registered.Schema != ws.text { // use.latest.version: encode with the subject's latest schema
		rs, err := c.readSchema(id)
		if err != nil {
			return nil, err
		}
		as, codec = rs.avro, rs.codec
	}
	out, err := appendDatum(srclient.AppendHeader(make([]byte, 0, 128), id), s, as, v)
	if err != errSlowPath {
		return out, err
	}
	a, err := toAvro(s, as, v)
	if err != nil {
		return nil, err
	}
	datum, err := codec.Marshal(as, a)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return append(srclient.AppendHeader(make([]byte, 0, 5+len(datum)), id), datum...), nil
}

func newWriteSchema(s *connect.Schema, enhanced bool) (*writeSchema, error) {
	text, err := fromConnectSchema(s, enhanced)
	if err != nil {
		return nil, err
	}
	as, err := havro.ParseWithCache(text, "", &havro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("Avro schema of %s: %w", s, err)
	}
	ws := &writeSchema{text: text, avro: as, codec: newCodec()}
	if u, ok := as.(*havro.UnionSchema); ok {
		as = nonNull(u)
	}
	if n, ok := as.(havro.NamedSchema); ok {
		ws.record = n.FullName()
	}
	return ws, nil
}

// ToConnect deserializes data in the wire format with the registered schema
// its header names. Nil data (a tombstone) gives a nil schema and value.
func (c *Converter) ToConnect(topic string, data []byte) (*connect.Schema, any, error) {
	if data == nil {
		return nil, nil, nil
	}
	s, v, err := c.toConnect(data)
	if err != nil {
		return nil, nil, fmt.Errorf("converting %s of topic %q from Avro: %w", srclient.What(c.isKey), topic, err)
	}
	return s, v, nil
}

func (c *Converter) toConnect(data []byte) (*connect.Schema, any, error) {
	id, datum, err := srclient.SplitHeader(data)
	if err != nil {
		return nil, nil, err
	}
	rs, err := c.readSchema(id)
	if err != nil {
		return nil, nil, err
	}
	v, rest, err := readDatum(datum, rs.connect, rs.avro)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("%d bytes after the datum of schema %d", len(rest), id)
	}
	if err != errSlowPath {
		return rs.connect, v, err
	}
	var a any
	if err := rs.codec.Unmarshal(rs.avro, datum, &a); err != nil {
		return nil, nil, fmt.Errorf("decode with schema %d: %w", id, err)
	}
	v, err = fromAvro(rs.connect, rs.avro, a)
	if err != nil {
		return nil, nil, err
	}
	return rs.connect, v, nil
}

func (c *Converter) readSchema(id int) (*readSchema, error) {
	return c.reads.Get(id, func() (*readSchema, error) {
		s, err := c.cl.Schema(id)
		if err != nil {
			return nil, err
		}
		as, err := ParseRegistered(c.cl, s)
		if err != nil {
			return nil, fmt.Errorf("schema %d: %w", id, err)
		}
		cs, err := ToConnectSchema(as)
		if err != nil {
			return nil, fmt.Errorf("schema %d: %w", id, err)
		}
		return &readSchema{avro: as, codec: newCodec(), connect: cs}, nil
	})
}

// ParseRegistered parses a registered Avro schema with the schemas it
// references.
func ParseRegistered(cl *srclient.Client, s sr.Schema) (havro.Schema, error) {
	if s.Type != sr.TypeAvro {
		return nil, fmt.Errorf("a %s schema, not Avro", s.Type)
	}
	cache := &havro.SchemaCache{}
	refs, err := cl.References(s)
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		if _, err := havro.ParseWithCache(r.Schema, "", cache); err != nil {
			return nil, err
		}
	}
	return havro.ParseWithCache(s.Schema, "", cache)
}
