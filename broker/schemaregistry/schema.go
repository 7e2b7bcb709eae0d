package schemaregistry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hamba/avro/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The schema types, as Confluent names them.
const (
	TypeAvro     = "AVRO"
	TypeJSON     = "JSON"
	TypeProtobuf = "PROTOBUF"
)

// parsed is a schema checked for validity, ready for compatibility checks.
type parsed struct {
	typ  string
	avro avro.Schema // AVRO
	json any         // JSON: the decoded document
}

// canonical returns the text a schema is stored and compared as: compacted
// JSON for Avro and JSON Schema (so whitespace does not make a new
// version), the trimmed text for Protobuf.
func canonical(typ, text string) (string, *Error) {
	switch typ {
	case TypeAvro, TypeJSON:
		var b bytes.Buffer
		if err := json.Compact(&b, []byte(text)); err != nil {
			return "", errorf(CodeInvalidSchema, "Invalid schema: %s is not JSON: %v", typ, err)
		}
		return b.String(), nil
	case TypeProtobuf:
		t := strings.TrimSpace(text)
		if t == "" {
			return "", errorf(CodeInvalidSchema, "Invalid schema: empty PROTOBUF schema")
		}
		return t, nil
	}
	return "", errorf(CodeInvalidSchema, "Invalid schema type %q: one of AVRO, JSON, PROTOBUF", typ)
}

// resolved is a reference with the schema it names, in dependency order.
type resolved struct {
	Reference
	def schemaDef
}

// parse checks def (with its references, resolved in order, dependencies
// first) and returns it parsed. Protobuf schemas are stored as given: no Go
// library here parses .proto text, so they are checked for nothing but
// being non-empty.
func parse(def schemaDef, refs []resolved) (*parsed, *Error) {
	switch def.Type {
	case TypeAvro:
		cache := &avro.SchemaCache{}
		for _, r := range refs {
			if _, err := avro.ParseWithCache(r.def.Schema, "", cache); err != nil {
				return nil, errorf(CodeInvalidSchema, "Invalid schema: reference %s (subject %s version %d): %v", r.Name, r.Subject, r.Version, err)
			}
		}
		s, err := avro.ParseWithCache(def.Schema, "", cache)
		if err != nil {
			return nil, errorf(CodeInvalidSchema, "Invalid schema: %v", err)
		}
		return &parsed{typ: TypeAvro, avro: s}, nil
	case TypeJSON:
		c := jsonschema.NewCompiler()
		for _, r := range refs {
			doc, err := jsonschema.UnmarshalJSON(strings.NewReader(r.def.Schema))
			if err == nil {
				err = c.AddResource(r.Name, doc)
			}
			if err != nil {
				return nil, errorf(CodeInvalidSchema, "Invalid schema: reference %s: %v", r.Name, err)
			}
		}
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(def.Schema))
		if err == nil {
			err = c.AddResource("penstock:schema.json", doc)
		}
		if err == nil {
			_, err = c.Compile("penstock:schema.json")
		}
		if err != nil {
			return nil, errorf(CodeInvalidSchema, "Invalid schema: %v", err)
		}
		return &parsed{typ: TypeJSON, json: doc}, nil
	case TypeProtobuf:
		return &parsed{typ: TypeProtobuf}, nil
	}
	return nil, errorf(CodeInvalidSchema, "Invalid schema type %q", def.Type)
}

// The compatibility levels.
const (
	CompatNone               = "NONE"
	CompatBackward           = "BACKWARD"
	CompatBackwardTransitive = "BACKWARD_TRANSITIVE"
	CompatForward            = "FORWARD"
	CompatForwardTransitive  = "FORWARD_TRANSITIVE"
	CompatFull               = "FULL"
	CompatFullTransitive     = "FULL_TRANSITIVE"
)

func validCompat(l string) bool {
	switch l {
	case CompatNone, CompatBackward, CompatBackwardTransitive, CompatForward,
		CompatForwardTransitive, CompatFull, CompatFullTransitive:
		return true
	}
	return false
}

// readable returns why data written with writer cannot be read with reader
// (nothing when it can). Protobuf is not checked.
func readable(reader, writer *parsed) []string {
	if reader.typ != writer.typ {
		return []string{fmt.Sprintf("schema type changed from %s to %s", writer.typ, reader.typ)}
	}
	switch reader.typ {
	case TypeAvro:
		if err := avro.NewSchemaCompatibility().Compatible(reader.avro, writer.avro); err != nil {
			return []string{err.Error()}
		}
	case TypeJSON:
		return jsonReadable(reader.json, writer.json, "#")
	}
	return nil
}

// checkCompat returns the reasons schema s is not compatible at level with
// the subject's earlier schemas (oldest first); none when it is.
func checkCompat(level string, s *parsed, earlier []*parsed) []string {
	if level == CompatNone || len(earlier) == 0 {
		return nil
	}
	against := earlier[len(earlier)-1:]
	if strings.HasSuffix(level, "_TRANSITIVE") {
		against = earlier
	}
	backward := strings.HasPrefix(level, "BACKWARD") || strings.HasPrefix(level, "FULL")
	forward := strings.HasPrefix(level, "FORWARD") || strings.HasPrefix(level, "FULL")
	var msgs []string
	for i := len(against) - 1; i >= 0; i-- {
		old := against[i]
		if backward {
			for _, m := range readable(s, old) {
				msgs = append(msgs, "BACKWARD: the new schema cannot read data written with an earlier one: "+m)
			}
		}
		if forward {
			for _, m := range readable(old, s) {
				msgs = append(msgs, "FORWARD: an earlier schema cannot read data written with the new one: "+m)
			}
		}
	}
	return msgs
}
