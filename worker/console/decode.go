package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/converters"
	"github.com/penstockhq/penstock/connect/converters/avro"
	"github.com/penstockhq/penstock/connect/converters/srclient"
)

// Decoder turns record keys and values into JSON for people to read:
// records in the Schema Registry wire format (Confluent's magic byte and
// schema id) through the registry, Avro by connect/converters/avro and JSON
// Schema as its payload; anything else as DecodeJSON does. `penstock
// consume` and the console's topic tail share it. Safe for concurrent use.
type Decoder struct {
	url  string
	cl   *srclient.Client
	avro *avro.Converter
	json *converters.JSON

	mu    sync.Mutex
	types map[int]sr.SchemaType
}

// NewDecoder returns a decoder through the registry the client keys in
// props name (schema.registry.url, basic.auth.*, schema.registry.ssl.*, as
// the converters take them); without a URL it decodes no wire-format record
// (nil Decoder, which is valid).
func NewDecoder(props map[string]string) (*Decoder, error) {
	url := props[srclient.KeyURL]
	if url == "" {
		return nil, nil
	}
	v, err := srclient.Def.Parse(props)
	if err != nil {
		return nil, err
	}
	cl, err := srclient.New(v, false)
	if err != nil {
		return nil, err
	}
	d := &Decoder{url: url, cl: cl, avro: avro.New(), json: converters.NewJSON(), types: map[int]sr.SchemaType{}}
	if err := d.avro.Configure(props, false); err != nil {
		return nil, err
	}
	if err := d.json.Configure(map[string]string{converters.JSONSchemasEnable: "false"}, false); err != nil {
		return nil, err
	}
	return d, nil
}

// Registry returns b decoded as JSON through the registry, or ok false when
// b is not in the wire format (or is Protobuf, which it does not decode).
func (d *Decoder) Registry(topic string, b []byte) (out json.RawMessage, ok bool, err error) {
	if d == nil {
		return nil, false, nil
	}
	id, payload, err := srclient.SplitHeader(b)
	if err != nil {
		return nil, false, nil
	}
	d.mu.Lock()
	t, known := d.types[id]
	d.mu.Unlock()
	if !known {
		s, err := d.cl.Schema(id)
		if err != nil {
			return nil, true, fmt.Errorf("schema %d from %s: %w", id, d.url, err)
		}
		t = s.Type
		d.mu.Lock()
		d.types[id] = t
		d.mu.Unlock()
	}
	switch t {
	case sr.TypeAvro:
		var s *connect.Schema
		var v any
		if s, v, err = d.avro.ToConnect(topic, b); err == nil {
			var out []byte
			if out, err = d.json.FromConnect(topic, s, v); err == nil {
				return out, true, nil
			}
		}
		return nil, true, err
	case sr.TypeJSON:
		if json.Valid(payload) {
			return payload, true, nil
		}
		return nil, true, fmt.Errorf("schema %d: payload is not JSON", id)
	}
	return nil, false, nil // Protobuf: shown as it is
}

// Decode returns b as JSON: through the registry when it is in the wire
// format and decodes (err says why one did not), else as DecodeJSON does.
func (d *Decoder) Decode(topic string, b []byte, raw bool) (json.RawMessage, error) {
	if !raw {
		out, ok, err := d.Registry(topic, b)
		if ok && err == nil {
			return out, nil
		}
		if err != nil {
			return DecodeJSON(b, raw), err
		}
	}
	return DecodeJSON(b, raw), nil
}

// DecodeJSON returns b as JSON for reading: null for a null key or value (a
// tombstone), the payload of Kafka Connect's {"schema","payload"} envelope
// unless raw, other valid JSON compacted, and anything else as a JSON
// string.
func DecodeJSON(b []byte, raw bool) json.RawMessage {
	if b == nil {
		return json.RawMessage("null")
	}
	if !json.Valid(b) {
		s, _ := json.Marshal(string(b))
		return s
	}
	if !raw {
		var env map[string]json.RawMessage
		if json.Unmarshal(b, &env) == nil && len(env) == 2 {
			if p, ok := env["payload"]; ok {
				if _, ok := env["schema"]; ok {
					b = p
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return json.RawMessage(b)
	}
	return buf.Bytes()
}
