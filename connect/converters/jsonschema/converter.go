// Package jsonschema is Confluent's JsonSchemaConverter: Connect records as
// plain JSON in Confluent's wire format (magic byte 0, a 4-byte schema id,
// the JSON document), their schemas registered in a Schema Registry as JSON
// Schema.
//
// The mapping follows Confluent's JsonSchemaData: structs are objects whose
// properties carry connect.index, their title the Connect name; integers and
// numbers carry connect.type (int8..int64, float32, float64), bytes are
// base64 strings with connect.type bytes, optional schemas are oneOf null
// and the schema, maps with string keys are objects with
// additionalProperties; connect.version, connect.parameters and description
// keep the rest. Where Penstock differs: structs are closed content models
// (additionalProperties false, non-optional fields required) so that adding
// an optional field is a BACKWARD-compatible change under Confluent's JSON
// Schema rules; Decimals are JSON numbers; maps with other keys are arrays
// of [key, value] pairs as JsonConverter writes them. Values are written and
// read by JsonConverter's rules (schemas.enable=false, decimal.format=NUMERIC).
package jsonschema

import (
	"bytes"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/connect/converters"
	"github.com/penstockhq/penstock/connect/converters/srclient"
)

// Converter is io.confluent.connect.json.JsonSchemaConverter.
type Converter struct {
	cl     *srclient.Client
	isKey  bool
	writer *converters.JSON // plain payloads
	reader *converters.JSON // enveloped payloads, to read by a schema

	writes srclient.Cache[*connect.Schema, *writeSchema]
	reads  srclient.Cache[int, *readSchema]
}

var _ connect.Converter = (*Converter)(nil)

type writeSchema struct {
	text   string
	record string
}

type readSchema struct {
	connect *connect.Schema
	prefix  []byte // {"schema":...,"payload":
}

// New returns an unconfigured JsonSchemaConverter.
func New() *Converter { return &Converter{} }

// Config returns the converter's keys.
func (c *Converter) Config() *config.Def { return srclient.Def }

// Configure applies the properties.
func (c *Converter) Configure(props map[string]string, isKey bool) error {
	v, err := srclient.Def.Parse(props)
	if err != nil {
		return fmt.Errorf("JsonSchemaConverter: %w", err)
	}
	cl, err := srclient.New(v, isKey)
	if err != nil {
		return fmt.Errorf("JsonSchemaConverter: %w", err)
	}
	c.writer, c.reader = converters.NewJSON(), converters.NewJSON()
	if err := c.writer.Configure(map[string]string{converters.JSONSchemasEnable: "false",
		converters.JSONDecimalFormat: converters.DecimalNumeric}, isKey); err != nil {
		return err
	}
	if err := c.reader.Configure(map[string]string{converters.JSONDecimalFormat: converters.DecimalNumeric}, isKey); err != nil {
		return err
	}
	c.cl, c.isKey = cl, isKey
	c.writes, c.reads = srclient.Cache[*connect.Schema, *writeSchema]{}, srclient.Cache[int, *readSchema]{}
	return nil
}

// FromConnect serializes v of schema s: the wire format's header, then the
// value as JSON. A nil value serializes to nil (a tombstone).
func (c *Converter) FromConnect(topic string, s *connect.Schema, v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	b, err := c.fromConnect(topic, s, v)
	if err != nil {
		return nil, fmt.Errorf("converting %s of topic %q to JSON Schema: %w", srclient.What(c.isKey), topic, err)
	}
	return b, nil
}

func (c *Converter) fromConnect(topic string, s *connect.Schema, v any) ([]byte, error) {
	if s == nil {
		return nil, fmt.Errorf("a schemaless %T has no JSON Schema; JsonSchemaConverter needs records with schemas", v)
	}
	ws, err := c.writes.Get(s, func() (*writeSchema, error) {
		text, err := FromConnectSchema(s)
		return &writeSchema{text: text, record: s.Name}, err
	})
	if err != nil {
		return nil, err
	}
	subject, err := c.cl.Subject(topic, ws.record)
	if err != nil {
		return nil, err
	}
	id, _, err := c.cl.ID(subject, sr.Schema{Schema: ws.text, Type: sr.TypeJSON})
	if err != nil {
		return nil, err
	}
	return c.writer.AppendConnect(srclient.AppendHeader(nil, id), s, v)
}

// ToConnect deserializes data in the wire format with the registered schema
// its header names. Nil data (a tombstone) gives a nil schema and value.
func (c *Converter) ToConnect(topic string, data []byte) (*connect.Schema, any, error) {
	if data == nil {
		return nil, nil, nil
	}
	s, v, err := c.toConnect(topic, data)
	if err != nil {
		return nil, nil, fmt.Errorf("converting %s of topic %q from JSON Schema: %w", srclient.What(c.isKey), topic, err)
	}
	return s, v, nil
}

func (c *Converter) toConnect(topic string, data []byte) (*connect.Schema, any, error) {
	id, payload, err := srclient.SplitHeader(data)
	if err != nil {
		return nil, nil, err
	}
	rs, err := c.readSchema(id)
	if err != nil {
		return nil, nil, err
	}
	env := make([]byte, 0, len(rs.prefix)+len(payload)+1)
	env = append(append(append(env, rs.prefix...), payload...), '}')
	_, v, err := c.reader.ToConnect(topic, env)
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
		if s.Type != sr.TypeJSON {
			return nil, fmt.Errorf("schema %d is %s, not JSON", id, s.Type)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(s.Schema)))
		if err != nil {
			return nil, fmt.Errorf("schema %d: %w", id, err)
		}
		cs, err := ToConnectSchema(doc)
		if err != nil {
			return nil, fmt.Errorf("schema %d: %w", id, err)
		}
		sj, err := c.reader.SchemaJSON(cs)
		if err != nil {
			return nil, fmt.Errorf("schema %d: %w", id, err)
		}
		prefix := append(append([]byte(`{"schema":`), sj...), `,"payload":`...)
		return &readSchema{connect: cs, prefix: prefix}, nil
	})
}
