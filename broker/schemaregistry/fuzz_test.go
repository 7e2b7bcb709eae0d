package schemaregistry

import (
	"encoding/json"
	"testing"
)

// FuzzApply feeds outside records (any Kafka client can write to _schemas)
// to the state: they are applied or skipped with an error, never a panic.
func FuzzApply(f *testing.F) {
	f.Add([]byte(`{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}`),
		[]byte(`{"subject":"s","version":1,"id":1,"schema":"\"string\"","deleted":false}`))
	f.Add([]byte(`{"keytype":"CONFIG","magic":0}`), []byte(`{"compatibilityLevel":"FULL"}`))
	f.Add([]byte(`{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}`), []byte(`{"subject":"s","version":3}`))
	f.Add([]byte(`{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}`), []byte(nil))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		st := newState()
		_ = st.apply(key, value)
		_ = st.apply(key, nil)
		_ = st.apply(key, value)
	})
}

// FuzzJSONReadable checks two outside JSON Schemas for compatibility:
// messages or none, never a panic.
func FuzzJSONReadable(f *testing.F) {
	f.Add(`{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}`,
		`{"type":"object","properties":{"a":{"type":"number"},"b":{"oneOf":[{"type":"null"},{"type":"string"}]}},"additionalProperties":false}`)
	f.Add(`true`, `{"enum":[1,2],"items":{"$ref":"#/x"}}`)
	f.Fuzz(func(t *testing.T, reader, writer string) {
		var r, w any
		if json.Unmarshal([]byte(reader), &r) != nil || json.Unmarshal([]byte(writer), &w) != nil {
			return
		}
		_ = jsonReadable(r, w, "#")
		_ = jsonReadable(w, r, "#")
	})
}
