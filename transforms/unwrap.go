package transforms

import (
	"fmt"
	"strings"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	names "github.com/penstockhq/penstock/internal/debeziumnames"
)

// Debezium envelope field names.
const (
	envBefore = names.FieldBefore
	envAfter  = names.FieldAfter
	envSource = names.FieldSource
	envOp     = names.FieldOp
)

// envelope recognises a Debezium change event value: a struct whose schema
// is named "<...>.Envelope" (or, for producers that name it otherwise, has
// op, before and after fields), or a schemaless map with a string "op" and a
// "before" or "after" key.
func isEnvelope(s *connect.Schema, v any) bool {
	if s != nil {
		if s.Type != connect.TypeStruct {
			return false
		}
		if strings.HasSuffix(s.Name, names.EnvelopeSuffix) {
			return true
		}
		_, op := s.Field(envOp)
		_, a := s.Field(envAfter)
		_, b := s.Field(envBefore)
		return op && a && b
	}
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	if _, ok := m[envOp].(string); !ok {
		return false
	}
	_, a := m[envAfter]
	_, b := m[envBefore]
	return a || b
}

// envField reads a field of an envelope struct or map (nil when absent).
func envField(v any, name string) any {
	switch e := v.(type) {
	case *connect.Struct:
		if f, ok := e.Schema().Field(name); ok {
			return e.RawAt(f.Index)
		}
	case map[string]any:
		return e[name]
	}
	return nil
}

// How ExtractNewRecordState treats delete events.
type deleteMode int

const (
	deleteDrop      deleteMode = iota // drop the event
	deleteNullValue                   // a record with a nil value and the row schema
	deleteTombstone                   // a tombstone: nil value and no schema
	deleteRewrite                     // the before state plus __deleted=true
)

// ExtractNewRecordState ("unwrap") replaces a Debezium change event with
// the row state after the change, as Debezium's transform of that name does:
// delete events and tombstones per delete.tombstone.handling.mode, envelope
// metadata added as fields (add.fields) or headers (add.headers), and
// optionally routed by a column (route.by.field). Records that are not
// change events (heartbeats, schema changes) pass unchanged; truncate events
// are dropped.
type ExtractNewRecordState struct {
	deletes        deleteMode
	keepTombstones bool
	rewrite        bool
	routeBy        string
	addFields      []fieldRef
	addHeaders     []fieldRef
	dropHeader     string
	dropFromKey    bool
	dropCompatible bool
	get            fieldGetter
	plans          map[[2]*connect.Schema]*unwrapPlan
	drops          map[dropKey]*replacePlan
	// cfg holds the keys as given.
	cfg struct {
		mode, legacyMode            string
		legacyDrop                  bool
		fieldsPrefix, headersPrefix string
		fields, headers             []string
	}
}

// fieldRef is one add.fields or add.headers entry: a field of the envelope
// ("op") or of a struct in it ("source.ts_ms"), and the name to give it.
type fieldRef struct {
	parent, field, name string
}

type unwrapPlan struct {
	schema *connect.Schema
	n      int        // fields copied from the row
	refs   []resolved // the add.fields that exist, in order
}

type resolved struct {
	ref    fieldRef
	path   []int // indexes from the envelope down
	schema *connect.Schema
}

type dropKey struct {
	s     *connect.Schema
	names string
}

const deletedField = "__deleted"

var unwrapBinding = config.Bind(
	config.StringField(config.Key{Name: "delete.tombstone.handling.mode", Default: "tombstone",
		Validator:  config.OneOf("drop", "tombstone", "rewrite", "rewrite-with-tombstone", "delete-to-tombstone"),
		Importance: config.Medium, Width: config.WidthMedium, DisplayName: "Handle delete and tombstone records",
		Doc: "How to handle delete records. Options are: drop - Remove the delete event and tombstone from the stream. " +
			"tombstone (default) - For each delete event, leave only a tombstone in the stream. " +
			"rewrite - Remove tombstone from the record, and add a `__deleted` field with the value `true`. " +
			"rewrite-with-tombstone - Retain tombstone in record and add a `__deleted` field with the value `true`. " +
			"delete-to-tombstone - Convert delete events to tombstone events and drop tombstone events."},
		func(t *ExtractNewRecordState) *string { return &t.cfg.mode }),
	config.StringField(config.Key{Name: "route.by.field", Default: "", Importance: config.Low, Width: config.WidthLong,
		Doc: "The column which determines how the events will be routed, the value will replace the topic name."},
		func(t *ExtractNewRecordState) *string { return &t.routeBy }),
	config.StringField(config.Key{Name: "add.fields.prefix", Default: "__", Importance: config.Low, Width: config.WidthShort,
		Doc: "Adds this prefix to each field listed."},
		func(t *ExtractNewRecordState) *string { return &t.cfg.fieldsPrefix }),
	config.ListField(config.Key{Name: "add.fields", Default: []string{}, Validator: fieldRefsValidator(), Importance: config.Low, Width: config.WidthLong,
		Doc: "Adds each field listed, prefixed with __ (or __<struct>_ if the struct is specified). " +
			"Example: 'version,connector,source.ts_ms' would add __version, __connector and __source_ts_ms fields. " +
			"Optionally one can also map new field name like version:VERSION,connector:CONNECTOR,source.ts_ms:EVENT_TIMESTAMP."},
		func(t *ExtractNewRecordState) *[]string { return &t.cfg.fields }),
	config.StringField(config.Key{Name: "add.headers.prefix", Default: "__", Importance: config.Low, Width: config.WidthShort,
		Doc: "Adds this prefix listed to each header."},
		func(t *ExtractNewRecordState) *string { return &t.cfg.headersPrefix }),
	config.ListField(config.Key{Name: "add.headers", Default: []string{}, Validator: fieldRefsValidator(), Importance: config.Low, Width: config.WidthLong,
		Doc: "Adds each field listed to the header, __ (or __<struct>_ if the struct is specified). " +
			"Example: 'version,connector,source.ts_ms' would add __version, __connector and __source_ts_ms headers."},
		func(t *ExtractNewRecordState) *[]string { return &t.cfg.headers }),
	config.StringField(config.Key{Name: "drop.fields.header.name", Importance: config.Low, Width: config.WidthShort,
		Doc: "Specifies the name of a header that contains a list of fields to be removed from the event value."},
		func(t *ExtractNewRecordState) *string { return &t.dropHeader }),
	config.BoolField(config.Key{Name: "drop.fields.from.key", Default: false, Importance: config.Low, Width: config.WidthShort,
		Doc: "Specifies whether to apply the drop fields behavior to the event key as well as the value."},
		func(t *ExtractNewRecordState) *bool { return &t.dropFromKey }),
	config.BoolField(config.Key{Name: "drop.fields.keep.schema.compatible", Default: true, Importance: config.Low, Width: config.WidthShort,
		Doc: "true: only optional fields are dropped, keeping schemas compatible; false: dropped fields are removed regardless of optionality."},
		func(t *ExtractNewRecordState) *bool { return &t.dropCompatible }),
	config.BoolField(config.Key{Name: "replace.null.with.default", Type: config.Boolean, Default: true, Importance: config.Low, Width: config.WidthShort,
		Doc: "When this option is enabled, null field values are replaced by source-defined defaults when rewriting the record."},
		func(t *ExtractNewRecordState) *bool { return (*bool)(&t.get) }),
	config.BoolField(config.Key{Name: "drop.tombstones", Importance: config.Low, Width: config.WidthShort,
		Doc: "Deprecated (Debezium < 2.5), use delete.tombstone.handling.mode. Whether to drop tombstone records; used only when delete.tombstone.handling.mode is not set."},
		func(t *ExtractNewRecordState) *bool { return &t.cfg.legacyDrop }),
	config.StringField(config.Key{Name: "delete.handling.mode", Validator: config.OneOf("drop", "rewrite", "none"), Importance: config.Low,
		Doc: "Deprecated (Debezium < 2.5), use delete.tombstone.handling.mode. drop, rewrite or none (a record with a null value); used only when delete.tombstone.handling.mode is not set."},
		func(t *ExtractNewRecordState) *string { return &t.cfg.legacyMode }),
)

func fieldRefsValidator() config.Validator {
	return validatorFunc("list of [struct.]field[:name]", func(v any) error {
		l, _ := v.([]string)
		_, err := parseFieldRefs("__", l)
		return err
	})
}

// parseFieldRefs reads add.fields/add.headers entries as Debezium does:
// "op" -> __op, "source.ts_ms" -> __source_ts_ms, "table" -> source's
// table as __table, "source.ts_ms:ts" -> __ts.
func parseFieldRefs(prefix string, l []string) ([]fieldRef, error) {
	var out []fieldRef
	for _, e := range l {
		parts := strings.Split(e, ":")
		if len(parts) > 2 {
			return nil, fmt.Errorf("Unexpected field name: %s", e)
		}
		path := strings.Split(parts[0], ".")
		var r fieldRef
		if len(path) == 1 {
			r.field = path[0]
			switch r.field {
			case "id", "total_order", "data_collection_order":
				r.parent = "transaction"
			case "op", "ts_ms", "ts_us", "ts_ns":
			default:
				r.parent = envSource
			}
			r.name = prefix + r.field
		} else {
			r.parent, r.field = path[0], path[1]
			r.name = prefix + r.parent + "_" + r.field
		}
		if len(parts) == 2 {
			r.name = prefix + parts[1]
		}
		if r.field == "" {
			return nil, fmt.Errorf("Unexpected field name: %s", e)
		}
		out = append(out, r)
	}
	return out, nil
}

// NewExtractNewRecordState returns an unconfigured ExtractNewRecordState.
func NewExtractNewRecordState() *ExtractNewRecordState { return &ExtractNewRecordState{} }

// Config returns Debezium's keys, plus the pre-2.5 drop.tombstones and
// delete.handling.mode.
func (*ExtractNewRecordState) Config() *config.Def { return unwrapBinding.Def() }

// Configure reads the keys. The legacy keys apply only when
// delete.tombstone.handling.mode is not set.
func (t *ExtractNewRecordState) Configure(props map[string]string) error {
	const name = "ExtractNewRecordState"
	if _, err := configure(name, unwrapBinding, props, t); err != nil {
		return err
	}
	_, modeSet := props["delete.tombstone.handling.mode"]
	_, legacyDrop := props["drop.tombstones"]
	_, legacyMode := props["delete.handling.mode"]
	if !modeSet && (legacyDrop || legacyMode) {
		t.keepTombstones = legacyDrop && !t.cfg.legacyDrop
		switch t.cfg.legacyMode {
		case "rewrite":
			t.deletes, t.rewrite = deleteRewrite, true
		case "none":
			t.deletes = deleteNullValue
		default:
			t.deletes = deleteDrop
		}
	} else {
		t.keepTombstones, t.rewrite = false, false
		switch t.cfg.mode {
		case "drop":
			t.deletes = deleteDrop
		case "rewrite":
			t.deletes, t.rewrite = deleteRewrite, true
		case "rewrite-with-tombstone":
			t.deletes, t.rewrite, t.keepTombstones = deleteRewrite, true, true
		case "delete-to-tombstone":
			t.deletes = deleteTombstone
		default:
			t.deletes = deleteNullValue
		}
	}
	t.addFields, _ = parseFieldRefs(t.cfg.fieldsPrefix, t.cfg.fields)    // checked by the validator
	t.addHeaders, _ = parseFieldRefs(t.cfg.headersPrefix, t.cfg.headers) // checked by the validator
	t.dropHeader = strings.TrimSpace(t.dropHeader)
	t.plans, t.drops = map[[2]*connect.Schema]*unwrapPlan{}, map[dropKey]*replacePlan{}
	return nil
}

// Apply unwraps a change event.
func (t *ExtractNewRecordState) Apply(rec *connect.Record) (*connect.Record, error) {
	out, _, err := t.applyOwned(rec, 0)
	return out, err
}

func (t *ExtractNewRecordState) applyOwned(rec *connect.Record, own ownership) (*connect.Record, ownership, error) {
	out, fresh, err := t.unwrap(rec, own)
	switch {
	case err != nil || out == nil:
		return nil, 0, err
	case fresh == passedThrough:
		return out, own, nil
	}
	own = ownRecord | own&ownKey
	if fresh == freshMap {
		own |= ownValue
	}
	return out, own, nil
}

// What unwrap made of a record's value.
const (
	passedThrough = iota // the record is unchanged
	sharedValue          // the value is shared with the input (e.g. the after struct)
	freshMap             // the value is a map made for this record
)

// unwrap does Apply's work on rec, itself when the chain owns it.
func (t *ExtractNewRecordState) unwrap(rec *connect.Record, own ownership) (*connect.Record, int, error) {
	const name = "ExtractNewRecordState"
	if rec.Value == nil {
		if !t.keepTombstones {
			return nil, 0, nil
		}
		if len(t.addHeaders) == 0 {
			return rec, passedThrough, nil
		}
		c, _ := owned(rec, own)
		for _, r := range t.addHeaders {
			if r.parent == "" && r.field == envOp {
				c.Headers.Add(r.name, connect.OptionalStringSchema, "d")
			}
		}
		return c, sharedValue, nil
	}
	env := rec.Value
	envSchema := rec.ValueSchema
	var after, before any
	if m, isMap := env.(map[string]any); isMap && envSchema == nil {
		// The schemaless envelope test of isEnvelope, reading each key once.
		_, hasOp := m[envOp].(string)
		a, hasA := m[envAfter]
		b, hasB := m[envBefore]
		if !hasOp || !(hasA || hasB) {
			return rec, passedThrough, nil
		}
		after, before = a, b
	} else {
		if !isEnvelope(envSchema, env) {
			return rec, passedThrough, nil
		}
		after, before = envField(env, envAfter), envField(env, envBefore)
	}
	if envSchema != nil {
		if _, ok := requireStruct(env); !ok {
			return nil, 0, recordErr(name, rec, "", "expected a struct for envelope schema %s, got %T", envSchema.Name, env)
		}
	}
	c, _ := owned(rec, own)
	for _, r := range t.addHeaders {
		s, x, ok := t.lookup(envSchema, env, r)
		if ok {
			c.Headers.Add(r.name, s, x)
		}
	}
	rowSchema := func(field string) *connect.Schema {
		if envSchema == nil {
			return nil
		}
		if f, ok := envSchema.Field(field); ok {
			return f.Schema
		}
		return nil
	}
	if after == nil && before == nil { // truncate, or an event without row state
		return nil, 0, nil
	}
	if after == nil { // delete
		var row any
		var rs *connect.Schema
		switch t.deletes {
		case deleteDrop:
			return nil, 0, nil
		case deleteNullValue:
			c.ValueSchema, c.Value = rowSchema(envAfter), nil
		case deleteTombstone:
			c.ValueSchema, c.Value = nil, nil
		case deleteRewrite:
			row, rs = before, rowSchema(envBefore)
			c.ValueSchema, c.Value = rs, row
		}
		if t.routeBy != "" {
			if err := t.route(c, before, "before"); err != nil {
				return nil, 0, err
			}
		}
		fresh, err := t.dropFields(c)
		if err != nil {
			return nil, 0, err
		}
		if c.Value != nil {
			f, err := t.addRowFields(c, envSchema, env, "true")
			if err != nil {
				return nil, 0, err
			}
			fresh = fresh || f
		}
		return c, made(fresh), nil
	}
	c.ValueSchema, c.Value = rowSchema(envAfter), after
	if t.routeBy != "" {
		if err := t.route(c, after, "after"); err != nil {
			return nil, 0, err
		}
	}
	fresh, err := t.addRowFields(c, envSchema, env, "false")
	if err != nil {
		return nil, 0, err
	}
	dropped, err := t.dropFields(c)
	if err != nil {
		return nil, 0, err
	}
	return c, made(fresh || dropped), nil
}

func made(fresh bool) int {
	if fresh {
		return freshMap
	}
	return sharedValue
}

// route sets the topic from the route.by.field column of row.
func (t *ExtractNewRecordState) route(c *connect.Record, row any, which string) error {
	x := envField(row, t.routeBy)
	if x == nil {
		if st, ok := row.(*connect.Struct); ok {
			if _, has := st.Schema().Field(t.routeBy); has {
				return nil
			}
		} else if m, ok := row.(map[string]any); ok {
			if _, has := m[t.routeBy]; has {
				return nil
			}
		}
		return recordErr("ExtractNewRecordState", c, t.routeBy, "route.by.field column is not in the %s row", which)
	}
	s, ok := x.(string)
	if !ok {
		return recordErr("ExtractNewRecordState", c, t.routeBy, "route.by.field column must be a string, got %T", x)
	}
	if strings.TrimSpace(s) != "" {
		c.Topic = s
	}
	return nil
}

// lookup finds an add.fields/add.headers reference in the envelope: in its
// parent struct, else at the top level (a field another transform added).
func (t *ExtractNewRecordState) lookup(envSchema *connect.Schema, env any, r fieldRef) (*connect.Schema, any, bool) {
	if envSchema == nil {
		m := env.(map[string]any)
		if r.parent != "" {
			if p, ok := m[r.parent].(map[string]any); ok {
				if x, ok := p[r.field]; ok {
					return nil, x, true
				}
			}
		}
		x, ok := m[r.field]
		return nil, x, ok
	}
	path, fs := resolveRef(envSchema, r)
	if path == nil {
		return nil, nil, false
	}
	return fs, readPath(env.(*connect.Struct), path), true
}

func resolveRef(envSchema *connect.Schema, r fieldRef) ([]int, *connect.Schema) {
	if r.parent != "" {
		if pf, ok := envSchema.Field(r.parent); ok && pf.Schema.Type == connect.TypeStruct {
			if f, ok := pf.Schema.Field(r.field); ok {
				return []int{pf.Index, f.Index}, optionalCopy(f.Schema)
			}
		}
	}
	if f, ok := envSchema.Field(r.field); ok {
		return []int{f.Index}, optionalCopy(f.Schema)
	}
	return nil, nil
}

// optionalCopy is Debezium's copySchemaBasics(schema).optional(): the
// schema without its default, optional.
func optionalCopy(s *connect.Schema) *connect.Schema {
	c := *s
	c.Optional, c.Default = true, nil
	return &c
}

func readPath(st *connect.Struct, path []int) any {
	var x any = st
	for _, i := range path {
		cur, ok := x.(*connect.Struct)
		if !ok || cur == nil {
			return nil
		}
		x = cur.RawAt(i)
	}
	return x
}

// addRowFields adds __deleted (rewrite modes) and add.fields to c's value.
func (t *ExtractNewRecordState) addRowFields(c *connect.Record, envSchema *connect.Schema, env any, deleted string) (bool, error) {
	rec := c
	if !t.rewrite && len(t.addFields) == 0 {
		return false, nil
	}
	if c.ValueSchema == nil {
		m, ok := c.Value.(map[string]any)
		if !ok {
			if t.rewrite && len(t.addFields) == 0 {
				return false, nil // Debezium adds __deleted to structs only
			}
			return false, recordErr("ExtractNewRecordState", rec, "", "the row state must be a map to add fields, got %T", c.Value)
		}
		extra := len(t.addFields)
		if t.rewrite {
			extra++
		}
		out := copyMap(m, extra)
		if t.rewrite {
			out[deletedField] = deleted
		}
		for _, r := range t.addFields {
			if _, x, ok := t.lookup(nil, env, r); ok {
				out[r.name] = x
			}
		}
		c.Value = out
		return true, nil
	}
	row, ok := requireStruct(c.Value)
	if !ok {
		return false, recordErr("ExtractNewRecordState", rec, "", "the row state must be a struct to add fields, got %T", c.Value)
	}
	key := [2]*connect.Schema{row.Schema(), envSchema}
	plan := t.plans[key]
	if plan == nil {
		plan = &unwrapPlan{n: len(row.Schema().Fields)}
		fields := append([]connect.Field(nil), row.Schema().Fields...)
		if t.rewrite {
			fields = append(fields, connect.F(deletedField, connect.OptionalStringSchema))
		}
		for _, r := range t.addFields {
			if path, fs := resolveRef(envSchema, r); path != nil {
				plan.refs = append(plan.refs, resolved{ref: r, path: path, schema: fs})
				fields = append(fields, connect.F(r.name, fs))
			}
		}
		var err error
		if plan.schema, err = newStructSchema(row.Schema(), fields); err != nil {
			return false, recordErr("ExtractNewRecordState", rec, "", "%v", err)
		}
		if len(t.plans) >= cacheSize {
			clear(t.plans)
		}
		t.plans[key] = plan
	}
	out := connect.NewStruct(plan.schema)
	for i := 0; i < plan.n; i++ {
		out.SetAt(i, t.get.at(row, i))
	}
	i := plan.n
	if t.rewrite {
		out.SetAt(i, deleted)
		i++
	}
	envStruct := env.(*connect.Struct)
	for _, r := range plan.refs {
		out.SetAt(i, readPath(envStruct, r.path))
		i++
	}
	c.ValueSchema, c.Value = plan.schema, out
	return false, nil
}

// dropFields removes the fields named by the drop.fields.header.name header
// from the value (and the key with drop.fields.from.key).
func (t *ExtractNewRecordState) dropFields(c *connect.Record) (bool, error) {
	if t.dropHeader == "" {
		return false, nil
	}
	h, ok := c.Headers.Last(t.dropHeader)
	if !ok || h.Value == nil {
		return false, nil
	}
	var names []string
	switch l := h.Value.(type) {
	case []string:
		names = l
	case []any:
		for _, x := range l {
			if s, ok := x.(string); ok {
				names = append(names, s)
			}
		}
	case string:
		v, _ := config.ParseValue(config.List, l)
		names = v.([]string)
	default:
		return false, recordErr("ExtractNewRecordState", c, "", "header %s must list field names, got %T", t.dropHeader, h.Value)
	}
	if len(names) == 0 {
		return false, nil
	}
	if t.dropFromKey && c.Key != nil {
		s, v, err := t.exclude(c.KeySchema, c.Key, names)
		if err != nil {
			return false, recordErr("ExtractNewRecordState", c, "", "dropping key fields: %v", err)
		}
		c.KeySchema, c.Key = s, v
	}
	if c.Value != nil {
		s, v, err := t.exclude(c.ValueSchema, c.Value, names)
		if err != nil {
			return false, recordErr("ExtractNewRecordState", c, "", "dropping value fields: %v", err)
		}
		c.ValueSchema, c.Value = s, v
	}
	return c.ValueSchema == nil, nil
}

func (t *ExtractNewRecordState) exclude(s *connect.Schema, v any, names []string) (*connect.Schema, any, error) {
	drop := setOf(names)
	if s == nil {
		m, ok := v.(map[string]any)
		if !ok {
			return s, v, nil
		}
		out := make(map[string]any, len(m))
		for k, x := range m {
			if !drop[k] {
				out[k] = x
			}
		}
		return nil, out, nil
	}
	st, ok := requireStruct(v)
	if !ok {
		return s, v, nil
	}
	key := dropKey{st.Schema(), strings.Join(names, ",")}
	plan := t.drops[key]
	if plan == nil {
		plan = &replacePlan{}
		var fields []connect.Field
		for _, f := range st.Schema().Fields {
			if drop[f.Name] && (!t.dropCompatible || f.Schema.Optional) {
				continue
			}
			fields = append(fields, connect.F(f.Name, f.Schema))
			plan.src = append(plan.src, f.Index)
		}
		var err error
		if plan.schema, err = newStructSchema(st.Schema(), fields); err != nil {
			return nil, nil, err
		}
		if len(t.drops) >= cacheSize {
			clear(t.drops)
		}
		t.drops[key] = plan
	}
	out := connect.NewStruct(plan.schema)
	for i, src := range plan.src {
		out.SetAt(i, t.get.at(st, src))
	}
	return plan.schema, out, nil
}

// Close does nothing.
func (*ExtractNewRecordState) Close() error { return nil }
