package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// decodeBody reads the request body as JSON into v. Any Content-Type is
// accepted (curl sends form encoding by default). A malformed body answers
// 400 with a message naming the problem; an empty one answers 400 too.
func decodeBody(c echo.Context, v any) error {
	r := http.MaxBytesReader(c.Response(), c.Request().Body, maxBodyBytes)
	data, err := io.ReadAll(r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &Error{Status: http.StatusRequestEntityTooLarge,
				Message: fmt.Sprintf("Request body is larger than %d bytes", tooBig.Limit)}
		}
		return BadRequest("Could not read the request body: %v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return BadRequest("Request body is empty; a JSON body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return BadRequest("Invalid JSON in request body: unexpected data after the JSON value")
	}
	return nil
}

// jsonError turns a decoding error into a 400 that says what and where.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var be *Error
	switch {
	case errors.As(err, &be):
		return be
	case errors.As(err, &syn):
		return BadRequest("Invalid JSON in request body at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return BadRequest("Invalid JSON in request body: field %q must be %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		return BadRequest("Invalid JSON in request body: expected %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("Invalid JSON in request body: unexpected end of input")
	}
	return BadRequest("Invalid JSON in request body: %v", err)
}

// jsonKind names a Go kind the way a JSON user thinks of it.
func jsonKind(kind string) string {
	switch kind {
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	}
	return "a " + kind
}

// configMap is a flat connector configuration as a request body. Like
// Kafka Connect's Jackson mapping, it accepts numbers and booleans as values
// ("tasks.max": 1) and keeps their text; objects, arrays and null are
// rejected by name.
type configMap map[string]string

// UnmarshalJSON implements json.Unmarshaler.
func (m *configMap) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if raw == nil {
		*m = nil
		return nil
	}
	out := make(configMap, len(raw))
	for k, v := range raw {
		s, isNull, err := scalarText(k, v)
		if err != nil {
			return err
		}
		if isNull {
			return BadRequest("Invalid connector configuration: the value of %q is null", k)
		}
		out[k] = s
	}
	*m = out
	return nil
}

// patchMap is the body of PATCH .../config: a null value removes the key.
type patchMap map[string]*string

// UnmarshalJSON implements json.Unmarshaler.
func (m *patchMap) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if raw == nil {
		*m = nil
		return nil
	}
	out := make(patchMap, len(raw))
	for k, v := range raw {
		s, isNull, err := scalarText(k, v)
		if err != nil {
			return err
		}
		if isNull {
			out[k] = nil
			continue
		}
		out[k] = &s
	}
	*m = out
	return nil
}

// scalarText returns a JSON scalar's text: a string's value, a number's or
// boolean's literal; isNull for null.
func scalarText(key string, v json.RawMessage) (s string, isNull bool, err error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", false, BadRequest("Invalid connector configuration: %q has no value", key)
	}
	switch v[0] {
	case '"':
		if err := json.Unmarshal(v, &s); err != nil {
			return "", false, fmt.Errorf("value of %q: %w", key, err)
		}
		return s, false, nil
	case 'n':
		return "", true, nil
	case 't', 'f':
		return string(v), false, nil
	case '{', '[':
		return "", false, BadRequest("Invalid connector configuration: the value of %q must be a string, not an object or array", key)
	}
	// A number: keep its literal text.
	return string(v), false, nil
}

// normalizeNumbers replaces the json.Number values a UseNumber decoder left
// in v by int64 when the number is an integer that fits (offsets such as
// LSNs and Kafka offsets stay exact) and by float64 otherwise, so the herder
// sees ordinary Go values.
func normalizeNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return i
		}
		if f, err := t.Float64(); err == nil {
			return f
		}
		return string(t)
	case map[string]any:
		for k, e := range t {
			t[k] = normalizeNumbers(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = normalizeNumbers(e)
		}
		return t
	}
	return v
}
