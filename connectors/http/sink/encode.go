package sink

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/converters"
)

// plainJSON renders values as JSON without the schema envelope.
var plainJSON = func() *converters.JSON {
	c := converters.NewJSON()
	if err := c.Configure(map[string]string{converters.JSONSchemasEnable: "false"}, false); err != nil {
		panic(err)
	}
	return c
}()

// jsonOf appends v as JSON (a Struct with its schema, anything else schemaless).
func jsonOf(buf []byte, v any) ([]byte, error) {
	var s *connect.Schema
	if st, ok := v.(*connect.Struct); ok {
		s = st.Schema()
	}
	return plainJSON.AppendConnect(buf, s, v)
}

// item is one record made into (part of) a request.
type item struct {
	rec   connect.Record // a copy: the runtime reuses the Put's records (ReleasesRecords)
	to    *target        // nil when err is set
	body  []byte         // the record's part of the body: body, or text when the
	text  string         // value was a string that needed no encoding (not copied)
	alone bool           // a DELETE: never batched, no body
	err   error          // the record could not become a request: reported in its turn
}

// target is where an item's request goes: items with equal targets may
// share a request. Items of a URL and headers without record fields share
// the settings' target; the others have one each.
type target struct {
	method string
	url    string
	header http.Header
	hkey   string // the rendered templated headers, to tell batches apart
}

// size returns the length of the item's part of the body.
func (it *item) size() int { return len(it.body) + len(it.text) }

// appendBody appends the item's part of the body to b.
func (it *item) appendBody(b []byte) []byte {
	if it.body != nil {
		return append(b, it.body...)
	}
	return append(b, it.text...)
}

// describe names a record in errors.
func describe(rec *connect.Record) string {
	return fmt.Sprintf("record %s-%d@%d (key %s)", rec.Topic, rec.Partition, rec.Offset, keyText(rec.Key))
}

func keyText(k any) string {
	if k == nil {
		return "null"
	}
	s := text(k)
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return s
}

// errSkip says a record needs no request (a null value to ignore).
var errSkip = errors.New("skip")

// makeItem fills it, a new item, from a record. It returns errSkip for a
// record that needs no request; a record that cannot become a request
// gets err set, so it is reported in its partition's order.
func (s *settings) makeItem(it *item, rec *connect.Record) error {
	it.rec = *rec
	fail := func(err error) error {
		it.err = fmt.Errorf("%s: %w", describe(rec), err)
		return nil
	}
	if s.static != nil && rec.Value != nil {
		// The common case: no per-record rendering, one shared target.
		var err error
		if it.body, it.text, err = s.encode(rec.Value); err != nil {
			return fail(fmt.Errorf("%s=%s: %w", BodyFormatConfig, s.format, err))
		}
		it.to = s.static
		return nil
	}
	to := &target{method: s.method}
	u, err := s.url.render(rec)
	if err != nil && !(rec.Value == nil && s.nullValues != BehaviorDelete) {
		return fail(fmt.Errorf("%s: %w", URLConfig, err))
	}
	to.url = u
	if rec.Value == nil {
		switch s.nullValues {
		case BehaviorIgnore, BehaviorLog:
			return errSkip
		case BehaviorFail:
			return fail(fmt.Errorf("the value is null and %s=fail", NullValuesConfig))
		}
		if rec.Key == nil {
			return fail(fmt.Errorf("the value is null and %s=delete, but the key is null too", NullValuesConfig))
		}
		if !s.url.hasKey() {
			to.url = strings.TrimRight(u, "/") + "/" + url.PathEscape(text(rec.Key))
		}
		to.method, it.alone = http.MethodDelete, true
	} else if it.body, it.text, err = s.encode(rec.Value); err != nil {
		return fail(fmt.Errorf("%s=%s: %w", BodyFormatConfig, s.format, err))
	}
	to.header = s.bodyHeader
	if it.alone {
		to.header = s.bareHeader
	}
	if len(s.templated) > 0 {
		to.header = to.header.Clone()
		var hkey strings.Builder
		for _, h := range s.templated {
			v, err := h.value.render(rec)
			if err != nil {
				return fail(fmt.Errorf("header %s: %w", h.name, err))
			}
			to.header.Set(h.name, v)
			hkey.WriteString(v)
			hkey.WriteByte(0)
		}
		to.hkey = hkey.String()
	}
	it.to = to
	return nil
}

// prepareHeaders computes the headers every request shares: the static
// ones of headers and sensitive.headers, and the Content-Type of the body
// format unless they set one; templated headers are filled per record.
// Without templates in the URL or headers, every record with a value has
// the same target, static.
func (s *settings) prepareHeaders() {
	s.bareHeader = http.Header{}
	for _, h := range s.headers {
		if h.value.static() {
			v, _ := h.value.render(nil)
			s.bareHeader.Set(h.name, v)
		} else {
			s.templated = append(s.templated, h)
		}
	}
	s.bodyHeader = s.bareHeader.Clone()
	if s.bodyHeader.Get("Content-Type") == "" {
		ctype := "application/octet-stream"
		switch {
		case s.format == FormatJSON && string(s.separator) == "\n" && len(s.prefix) == 0 && s.maxSize > 1:
			ctype = "application/x-ndjson"
		case s.format == FormatJSON:
			ctype = "application/json"
		case s.format == FormatString:
			ctype = "text/plain; charset=utf-8"
		}
		s.bodyHeader.Set("Content-Type", ctype)
	}
	if s.url.static() && len(s.templated) == 0 {
		u, _ := s.url.render(nil)
		s.static = &target{method: s.method, url: u, header: s.bodyHeader}
	}
}

// encode renders a value as request.body.format says: as bytes, or as a
// string when the value is a string that needs no encoding (so that it is
// not copied).
func (s *settings) encode(v any) ([]byte, string, error) {
	switch s.format {
	case FormatBytes:
		switch x := v.(type) {
		case []byte:
			return x, "", nil
		case string:
			return nil, x, nil
		}
		return nil, "", fmt.Errorf("the value is a %T, not bytes or a string (use a ByteArrayConverter or StringConverter)", v)
	case FormatJSON:
		// gjson.Valid accepts what encoding/json.Valid does (TestValidJSON)
		// at a fraction of its cost, which was the sink's largest per-record
		// cost with a StringConverter.
		var b []byte
		var err error
		switch x := v.(type) {
		case []byte:
			if gjson.ValidBytes(x) {
				return x, "", nil
			}
			b, err = json.Marshal(string(x))
		case string:
			if gjson.Valid(x) {
				return nil, x, nil
			}
			b, err = json.Marshal(x)
		default:
			b, err = jsonOf(nil, v)
		}
		return b, "", err
	}
	switch x := v.(type) {
	case string:
		return nil, x, nil
	case []byte:
		return x, "", nil
	}
	return nil, text(v), nil
}

// batchable reports whether b may join a request that began with a.
func batchable(a, b *item) bool {
	if a.alone || b.alone || a.err != nil || b.err != nil {
		return false
	}
	return a.to == b.to || (a.to.method == b.to.method && a.to.url == b.to.url && a.to.hkey == b.to.hkey)
}
