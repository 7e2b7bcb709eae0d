package transforms

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	names "github.com/penstockhq/penstock/internal/debeziumnames"
)

// EventRouter is Debezium's outbox event router: it turns inserts into an
// outbox table (id, aggregatetype, aggregateid, type, payload) into events
// on a topic per aggregate type ("outbox.event.${routedByValue}"), keyed by
// the aggregate id, with the payload as value and the event id in an "id"
// header. Deletes and tombstones of the outbox table are dropped (rows are
// usually deleted right after insert); updates are dropped with a warning,
// an error or a failure per table.op.invalid.behavior.
type EventRouter struct {
	idField, keyField, tsField, payloadField, versionField, routeBy string
	additional                                                      []outboxField
	missingIgnore                                                   bool
	router                                                          *topicRouter
	tombstoneOnEmpty                                                bool
	invalidOp                                                       string
	expandJSON                                                      bool
	envelopeFields                                                  bool
	valueSchemas                                                    map[schemaTopic]*connect.Schema
	// cfg holds the keys as given.
	cfg struct{ placement, missing, topicRegex, topicReplacement string }
}

type outboxField struct {
	field, placement, alias string
}

var eventRouterBinding = config.Bind(
	config.StringField(config.Key{Name: "table.op.invalid.behavior", Default: "warn", Validator: config.OneOf("warn", "error", "fatal"),
		Importance: config.Medium, Doc: "While Debezium is capturing changes from the outbox table, it is expecting only to process 'create' or 'delete' row events; in case something else is processed this transform can log it as warning, error or stop the process."},
		func(t *EventRouter) *string { return &t.invalidOp }),
	config.StringField(config.Key{Name: "table.field.event.id", Default: "id", Importance: config.Low, Doc: "The column which contains the event ID within the outbox table"},
		func(t *EventRouter) *string { return &t.idField }),
	config.StringField(config.Key{Name: "table.field.event.key", Default: "aggregateid", Importance: config.Low, Doc: "The column which contains the event key within the outbox table"},
		func(t *EventRouter) *string { return &t.keyField }),
	config.OnlyKey[EventRouter](config.Key{Name: "table.field.event.type", Type: config.String, Default: "type", Importance: config.Low, Doc: "The column which contains the event type within the outbox table"}),
	config.StringField(config.Key{Name: "table.field.event.timestamp", Importance: config.Medium,
		Doc: "Optionally you can override the Kafka message timestamp with a value from a chosen column, otherwise it'll be the Debezium event processed timestamp."},
		func(t *EventRouter) *string { return &t.tsField }),
	config.StringField(config.Key{Name: "table.field.event.payload", Default: "payload", Importance: config.Low, Doc: "The column which contains the event payload within the outbox table"},
		func(t *EventRouter) *string { return &t.payloadField }),
	config.StringField(config.Key{Name: "table.fields.additional.placement", Validator: outboxPlacementValidator(), Importance: config.High,
		Doc: "Extra fields can be added as part of the event envelope or a message header, format is a list of colon-delimited pairs or trios when you desire to have aliases, e.g. <code>id:header,field_name:envelope:alias,field_name:partition</code> "},
		func(t *EventRouter) *string { return &t.cfg.placement }),
	config.StringField(config.Key{Name: "table.field.additional.missing", Default: "error", Validator: config.OneOf("error", "ignore"), Importance: config.Low,
		Doc: "When transforming the 'table.fields.additional.placement' fields, defines the behavior when the field is missing in the change data: error or ignore."},
		func(t *EventRouter) *string { return &t.cfg.missing }),
	config.StringField(config.Key{Name: "table.field.event.schema.version", Importance: config.Low,
		Doc: "The column which contains the event schema version within the outbox table"},
		func(t *EventRouter) *string { return &t.versionField }),
	config.StringField(config.Key{Name: "route.by.field", Default: "aggregatetype", Importance: config.Medium,
		Doc: "The column which determines how the events will be routed, the value will become part of the topic name"},
		func(t *EventRouter) *string { return &t.routeBy }),
	config.StringField(config.Key{Name: "route.topic.regex", Default: "(?<routedByValue>.*)", Validator: regexValidator(), Importance: config.Low,
		Doc: "The default regex to use within the RegexRouter, the default capture will allow to replace the routed field into a new topic name defined in 'route.topic.replacement'"},
		func(t *EventRouter) *string { return &t.cfg.topicRegex }),
	config.StringField(config.Key{Name: "route.topic.replacement", Default: "outbox.event.${routedByValue}", Importance: config.High,
		Doc: "The name of the topic in which the events will be routed, a replacement '${routedByValue}' is available which is the value of The column configured via 'route.by.field'"},
		func(t *EventRouter) *string { return &t.cfg.topicReplacement }),
	config.BoolField(config.Key{Name: "route.tombstone.on.empty.payload", Default: false, Importance: config.Low,
		Doc: "Whether or not an empty payload should cause a tombstone event."},
		func(t *EventRouter) *bool { return &t.tombstoneOnEmpty }),
	config.BoolField(config.Key{Name: "table.expand.json.payload", Default: false, Importance: config.Medium,
		Doc: "Whether or not to try unescaping a JSON string and make it real JSON. It will infer schema information from payload and update the record schema accordingly. If content is not JSON, it just produces a warning and emits the record unchanged"},
		func(t *EventRouter) *bool { return &t.expandJSON }),
	config.OnlyKey[EventRouter](config.Key{Name: "table.json.payload.null.behavior", Type: config.String, Default: "ignore", Validator: config.OneOf("ignore", "optional_bytes"), Importance: config.Low,
		Doc: "Behavior when json payload including null value, the default will ignore null, optional_bytes will keep the null value, and treat null as optional bytes of connect."}),
)

func outboxPlacementValidator() config.Validator {
	return validatorFunc("list of field:placement[:alias]", func(v any) error {
		s, _ := v.(string)
		_, err := parseOutboxFields(s)
		return err
	})
}

func parseOutboxFields(s string) ([]outboxField, error) {
	var out []outboxField
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, e := range strings.Split(s, ",") {
		parts := strings.Split(e, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, fmt.Errorf("invalid additional field %q: use field:placement[:alias]", strings.TrimSpace(e))
		}
		f := outboxField{field: strings.TrimSpace(parts[0]), placement: strings.ToLower(strings.TrimSpace(parts[1]))}
		f.alias = f.field
		if len(parts) == 3 {
			f.alias = strings.TrimSpace(parts[2])
		}
		switch f.placement {
		case "header", "envelope", "partition":
		default:
			return nil, fmt.Errorf("invalid placement %q of additional field %s: use header, envelope or partition", parts[1], f.field)
		}
		out = append(out, f)
	}
	return out, nil
}

// NewEventRouter returns an unconfigured EventRouter.
func NewEventRouter() *EventRouter { return &EventRouter{} }

// Config returns Debezium's outbox keys.
func (*EventRouter) Config() *config.Def { return eventRouterBinding.Def() }

// Configure reads the outbox table layout and routing.
func (t *EventRouter) Configure(props map[string]string) error {
	if _, err := configure("EventRouter", eventRouterBinding, props, t); err != nil {
		return err
	}
	t.additional, _ = parseOutboxFields(t.cfg.placement) // checked by the validator
	t.missingIgnore = t.cfg.missing == "ignore"
	r, err := newReplacer(t.cfg.topicRegex, t.cfg.topicReplacement)
	if err != nil {
		return configError("EventRouter", "route.topic.replacement", t.cfg.topicReplacement, err.Error())
	}
	t.router = &topicRouter{r: r}
	t.envelopeFields = false
	for _, f := range t.additional {
		if f.placement == "envelope" {
			t.envelopeFields = true
		}
	}
	t.valueSchemas = map[schemaTopic]*connect.Schema{}
	return nil
}

// ValidateConfig checks the replacement's group references.
func (t *EventRouter) ValidateConfig(props map[string]string, infos *config.Infos) {
	p := map[string]string{"r": "(?<routedByValue>.*)", "p": "outbox.event.${routedByValue}"}
	if v, ok := props["route.topic.regex"]; ok {
		p["r"] = v
	}
	if v, ok := props["route.topic.replacement"]; ok {
		p["p"] = v
	}
	var tmp config.Infos
	validateReplacement(p, "r", "p", &tmp)
	for _, c := range tmp.Configs {
		for _, e := range c.Value.Errors {
			infos.AddError("route.topic.replacement", strings.Replace(e, "configuration p", "configuration route.topic.replacement", 1))
		}
	}
}

// row accesses an outbox row, schema'd or not.
type outboxRow struct {
	st *connect.Struct
	m  map[string]any
}

func (r outboxRow) field(name string) (*connect.Schema, any, bool) {
	if r.st != nil {
		f, ok := r.st.Schema().Field(name)
		if !ok {
			return nil, nil, false
		}
		return f.Schema, r.st.GetAt(f.Index), true
	}
	x, ok := r.m[name]
	return nil, x, ok
}

// Apply routes an outbox insert.
func (t *EventRouter) Apply(rec *connect.Record) (*connect.Record, error) {
	const name = "EventRouter"
	if rec.Value == nil {
		return nil, nil
	}
	if !isEnvelope(rec.ValueSchema, rec.Value) {
		return rec, nil
	}
	op, _ := envField(rec.Value, envOp).(string)
	switch op {
	case "d":
		return nil, nil
	case "u":
		switch t.invalidOp {
		case "fatal":
			return nil, recordErr(name, rec, "", "unexpected update event on the outbox table (table.op.invalid.behavior=fatal)")
		case "error":
			slog.Error("EventRouter: unexpected update event on the outbox table, skipped", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset)
		default:
			slog.Warn("EventRouter: unexpected update event on the outbox table, skipped", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset)
		}
		return nil, nil
	}
	var row outboxRow
	afterV := envField(rec.Value, envAfter)
	var afterSchema *connect.Schema
	if rec.ValueSchema != nil {
		st, ok := requireStruct(afterV)
		if !ok {
			return nil, recordErr(name, rec, envAfter, "expected the outbox row as a struct, got %T", afterV)
		}
		row.st, afterSchema = st, st.Schema()
	} else {
		m, ok := requireMap(afterV)
		if !ok {
			return nil, recordErr(name, rec, envAfter, "expected the outbox row as a map, got %T", afterV)
		}
		row.m = m
	}
	payloadSchema, payload, ok := row.field(t.payloadField)
	if !ok {
		return nil, recordErr(name, rec, t.payloadField, "unable to find the payload field in the outbox event")
	}
	idSchema, id, ok := row.field(t.idField)
	if !ok {
		return nil, recordErr(name, rec, t.idField, "unable to find the event id field in the outbox event")
	}
	_, routeV, _ := row.field(t.routeBy)
	routeValue, ok := routeV.(string)
	if !ok {
		return nil, recordErr(name, rec, t.routeBy, "route.by.field must be a non-null string column, got %T", routeV)
	}
	c := rec.Clone()
	c.Partition = -1
	ts, err := t.timestamp(rec, row)
	if err != nil {
		return nil, err
	}
	if !ts.IsZero() {
		c.Timestamp = ts
	}
	c.Headers.Add("id", idSchema, id)
	if t.expandJSON {
		if s, isString := payload.(string); isString {
			if ps, pv, err := expandJSON(t.payloadField, s, rec.ValueSchema != nil); err == nil {
				payloadSchema, payload = ps, pv
			} else {
				slog.Warn("EventRouter: payload is not JSON, left unchanged", "topic", rec.Topic, "offset", rec.Offset, "error", err)
			}
		}
	}
	// Additional fields.
	var envelopeVals []any
	for _, f := range t.additional {
		fs, x, present := row.field(f.field)
		if !present {
			if t.missingIgnore {
				continue
			}
			return nil, recordErr(name, rec, f.field, "additional field not found in the outbox event")
		}
		switch f.placement {
		case "header":
			c.Headers.Add(f.alias, fs, x)
		case "partition":
			p, ok := x.(int32)
			if !ok {
				return nil, recordErr(name, rec, f.field, "a partition field must be an int32, got %T", x)
			}
			c.Partition = p
		case "envelope":
			envelopeVals = append(envelopeVals, x)
		}
	}
	var valueSchema *connect.Schema
	var value any
	empty := payload == nil || strings.TrimSpace(fmt.Sprint(payload)) == ""
	switch {
	case empty && t.tombstoneOnEmpty:
	case !t.envelopeFields:
		valueSchema, value = payloadSchema, payload
	case row.st == nil:
		m := map[string]any{"payload": payload}
		i := 0
		for _, f := range t.additional {
			if f.placement == "envelope" {
				if _, _, present := row.field(f.field); present {
					m[f.alias] = envelopeVals[i]
					i++
				}
			}
		}
		value = m
	default:
		vs, err := t.valueSchema(rec, afterSchema, payloadSchema, routeValue, row)
		if err != nil {
			return nil, err
		}
		st := connect.NewStruct(vs)
		st.SetAt(0, payload)
		for i, x := range envelopeVals {
			st.SetAt(i+1, x)
		}
		valueSchema, value = vs, st
	}
	c.ValueSchema, c.Value = valueSchema, value
	c.KeySchema, c.Key = connect.StringSchema, nil
	if t.keyField != "" {
		ks, k, ok := row.field(t.keyField)
		if ok {
			c.Key = k
			if ks != nil {
				c.KeySchema = ks
			}
		}
	}
	if rec.ValueSchema == nil {
		c.KeySchema = nil
	}
	c.Topic = routeValue
	if topic, ok := t.router.route(routeValue); ok {
		c.Topic = topic
	}
	return c, nil
}

// valueSchema is the struct {payload, envelope fields...}, named after the
// row schema with the routed value inserted: "x.outbox.<route>.Value".
func (t *EventRouter) valueSchema(rec *connect.Record, afterSchema, payloadSchema *connect.Schema, route string, row outboxRow) (*connect.Schema, error) {
	// An inferred payload schema or a per-row version varies per record.
	cacheable := !t.expandJSON && t.versionField == ""
	key := schemaTopic{afterSchema, route}
	if s := t.valueSchemas[key]; s != nil && cacheable {
		return s, nil
	}
	fields := []connect.Field{connect.F("payload", payloadSchema)}
	for _, f := range t.additional {
		if f.placement != "envelope" {
			continue
		}
		af, ok := afterSchema.Field(f.field)
		if !ok {
			continue
		}
		fields = append(fields, connect.F(f.alias, af.Schema))
	}
	s, err := newStructSchema(nil, fields)
	if err != nil {
		return nil, recordErr("EventRouter", rec, "", "%v", err)
	}
	name := route
	if orig := afterSchema.Name; orig != "" {
		if i := strings.LastIndexByte(orig, '.'); i >= 0 {
			name = orig[:i+1] + route + "." + orig[i+1:]
		} else {
			name = route + "." + orig
		}
	}
	s.Name = name
	if t.versionField != "" {
		if _, x, ok := row.field(t.versionField); ok {
			if v, ok := x.(int32); ok {
				s.Version = v
			}
		}
	}
	if cacheable {
		if len(t.valueSchemas) >= cacheSize {
			clear(t.valueSchemas)
		}
		t.valueSchemas[key] = s
	}
	return s, nil
}

// timestamp is the event time: table.field.event.timestamp when set (a
// Timestamp, MicroTimestamp or NanoTimestamp column), else the envelope's ts_ms.
func (t *EventRouter) timestamp(rec *connect.Record, row outboxRow) (time.Time, error) {
	envTS := func() time.Time {
		switch v := envField(rec.Value, "ts_ms").(type) {
		case int64:
			return time.UnixMilli(v).UTC()
		case float64:
			return time.UnixMilli(int64(v)).UTC()
		}
		return time.Time{}
	}
	if t.tsField == "" {
		return envTS(), nil
	}
	s, x, ok := row.field(t.tsField)
	if !ok {
		return time.Time{}, recordErr("EventRouter", rec, t.tsField, "unable to find the timestamp field in the outbox event")
	}
	if x == nil {
		return envTS(), nil
	}
	if tm, ok := x.(time.Time); ok {
		return tm.UTC(), nil
	}
	n, ok := x.(int64)
	if !ok {
		if f, isF := x.(float64); isF && s == nil {
			n, ok = int64(f), true
		}
	}
	if !ok {
		return time.Time{}, recordErr("EventRouter", rec, t.tsField, "unsupported timestamp value of type %T", x)
	}
	name := ""
	if s != nil {
		name = s.Name
	}
	switch name {
	case names.MicroTimestamp:
		return time.UnixMicro(n).UTC(), nil
	case names.NanoTimestamp:
		return time.Unix(0, n).UTC(), nil
	case connect.TimestampName, names.Timestamp, "":
		return time.UnixMilli(n).UTC(), nil
	}
	return time.Time{}, recordErr("EventRouter", rec, t.tsField, "unsupported field type %s for the event timestamp", name)
}

// expandJSON parses a JSON payload string; with schemas it infers a schema:
// objects become structs (fields in document order), integers int64,
// other numbers float64, and nulls are left out.
func expandJSON(field, s string, withSchema bool) (*connect.Schema, any, error) {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "{") && !strings.HasPrefix(t, "[") {
		return nil, nil, fmt.Errorf("unable to parse payload starting with %q", firstRune(t))
	}
	dec := json.NewDecoder(strings.NewReader(t))
	dec.UseNumber()
	v, err := decodeOrdered(dec)
	if err != nil {
		return nil, nil, err
	}
	if !withSchema {
		return nil, plainJSON(v), nil
	}
	sch, val := jsonToConnect(field, v)
	if sch == nil {
		return nil, nil, fmt.Errorf("payload has no typed content")
	}
	return sch, val, nil
}

func firstRune(s string) string {
	for _, r := range s {
		return string(r)
	}
	return ""
}

// orderedObject is a JSON object with its keys in document order.
type orderedObject struct {
	keys []string
	vals []any
}

func decodeOrdered(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch d := tok.(type) {
	case json.Delim:
		switch d {
		case '{':
			o := &orderedObject{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				o.keys, o.vals = append(o.keys, kt.(string)), append(o.vals, v)
			}
			_, err := dec.Token()
			return o, err
		case '[':
			var a []any
			for dec.More() {
				v, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := dec.Token()
			return a, err
		}
	}
	return tok, nil
}

// plainJSON converts ordered objects to maps and numbers to int64/float64.
func plainJSON(v any) any {
	switch x := v.(type) {
	case *orderedObject:
		m := make(map[string]any, len(x.keys))
		for i, k := range x.keys {
			m[k] = plainJSON(x.vals[i])
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainJSON(e)
		}
		return out
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

// jsonToConnect infers an optional schema and a value for decoded JSON; a
// nil schema means "leave out" (null, or an empty array).
func jsonToConnect(name string, v any) (*connect.Schema, any) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case bool:
		return connect.OptionalBooleanSchema, x
	case string:
		return connect.OptionalStringSchema, x
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return connect.OptionalInt64Schema, n
		}
		f, _ := x.Float64()
		return connect.OptionalFloat64Schema, f
	case []any:
		var elem *connect.Schema
		out := make([]any, 0, len(x))
		for _, e := range x {
			es, ev := jsonToConnect(name, e)
			if es == nil {
				continue
			}
			if elem == nil {
				elem = es
			}
			if connect.Equal(es, elem) {
				out = append(out, ev)
			}
		}
		if elem == nil {
			return nil, nil
		}
		return optional(connect.ArrayOf(elem)), out
	case *orderedObject:
		var fields []connect.Field
		var vals []any
		for i, k := range x.keys {
			fs, fv := jsonToConnect(name+"."+k, x.vals[i])
			if fs == nil {
				continue
			}
			fields = append(fields, connect.F(k, fs))
			vals = append(vals, fv)
		}
		s, err := newStructSchema(nil, fields)
		if err != nil {
			return nil, nil
		}
		s.Name, s.Optional = name, true
		st := connect.NewStruct(s)
		for i, fv := range vals {
			st.SetAt(i, fv)
		}
		return s, st
	}
	return nil, nil
}

// Close does nothing.
func (*EventRouter) Close() error { return nil }
