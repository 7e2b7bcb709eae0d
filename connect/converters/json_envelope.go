package converters

import "github.com/penstockhq/penstock/connect"

// SchemaJSON returns s in Kafka Connect's JSON schema form, as the
// envelope's "schema" carries it (cached per schema). Converters that keep
// the schema elsewhere (JsonSchemaConverter) use it to read a plain payload
// with this converter's value rules.
func (c *JSON) SchemaJSON(s *connect.Schema) ([]byte, error) { return c.schemaJSON(s) }
