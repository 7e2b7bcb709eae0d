package transforms

import (
	"fmt"
	"strings"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// ByLogicalTableRouter routes change events of several physical tables (e.g.
// shards "db.public.orders_0", "db.public.orders_1") to one logical topic,
// renaming the key, envelope and row schemas after the new topic and adding
// a key field that says which physical table the row came from, so keys stay
// unique. Debezium's ToLogicalTopicRouter is the same transform with another
// default key field name.
type ByLogicalTableRouter struct {
	class      string
	defKeyName string
	topics     *topicRouter
	keyRe      *replacer
	keyIDs     stringCache[string]
	enforce    bool
	keyField   string
	adjust     string
	keySchemas map[schemaTopic]*connect.Schema
	envelopes  map[schemaTopic]*envelopePlan
	// cfg holds the keys as given.
	cfg struct{ topicRegex, topicReplacement, keyRegex, keyReplacement string }
}

type schemaTopic struct {
	s     *connect.Schema
	topic string
}

type envelopePlan struct {
	schema *connect.Schema
	row    *connect.Schema // the renamed before/after schema, nil if none
	rowIdx map[int]bool    // the before/after field indexes
}

func logicalRouterBinding(keyFieldDefault string) *config.Binding[ByLogicalTableRouter] {
	type r = ByLogicalTableRouter
	return config.Bind(
		config.StringField(config.Key{Name: "topic.regex", Required: true, Validator: regexValidator(), Importance: config.Low, Width: config.WidthLong,
			Doc: "The regex used for extracting the name of the logical table from the original topic name."},
			func(t *r) *string { return &t.cfg.topicRegex }),
		config.StringField(config.Key{Name: "topic.replacement", Required: true, Importance: config.Low, Width: config.WidthLong,
			Doc: "The replacement string used in conjunction with topic.regex. This will be used to create the new topic name."},
			func(t *r) *string { return &t.cfg.topicReplacement }),
		config.BoolField(config.Key{Name: "key.enforce.uniqueness", Default: true, Importance: config.Low, Width: config.WidthShort,
			Doc: "Augment each record's key with a field denoting the source topic. This field distinguishes records coming from different physical tables which may otherwise have primary/unique key conflicts. If the source tables are guaranteed to have globally unique keys then this may be set to false to disable key rewriting."},
			func(t *r) *bool { return &t.enforce }),
		config.StringField(config.Key{Name: "key.field.regex", Validator: regexValidator(), Importance: config.Low, Width: config.WidthLong,
			Doc: "The regex used for extracting the physical table identifier from the original topic name."},
			func(t *r) *string { return &t.cfg.keyRegex }),
		config.StringField(config.Key{Name: "key.field.name", Default: keyFieldDefault, Importance: config.Low, Width: config.WidthLong,
			Doc: "Each record's key schema will be augmented with this field name. The purpose of this field is to distinguish the different physical tables that can now share a single topic."},
			func(t *r) *string { return &t.keyField }),
		config.StringField(config.Key{Name: "key.field.replacement", Importance: config.Low, Width: config.WidthLong,
			Doc: "The replacement string used in conjunction with key.field.regex. This will be used to create the physical table identifier in the record's key."},
			func(t *r) *string { return &t.cfg.keyReplacement }),
		config.StringField(config.Key{Name: "schema.name.adjustment.mode", Default: "none", Validator: config.OneOf("none", "avro", "avro_unicode"),
			Importance: config.Low, Width: config.WidthMedium,
			Doc: "How the schema names derived from the resulting topic name are adjusted for the converter: 'none' (default), 'avro' replaces characters Avro names cannot hold with underscores, 'avro_unicode' with _uxxxx escapes."},
			func(t *r) *string { return &t.adjust }),
		config.OnlyKey[r](config.Key{Name: "logical.table.cache.size", Type: config.Int, Default: 16, Validator: config.AtLeast(1), Importance: config.Low, Width: config.WidthLong,
			Doc: "Accepted for compatibility; Penstock's caches are sized internally."}),
		config.OnlyKey[r](config.Key{Name: "logical.destination.cache.size", Type: config.Int, Default: 16, Validator: config.AtLeast(1), Importance: config.Low, Width: config.WidthLong,
			Doc: "Accepted for compatibility; Penstock's caches are sized internally."}),
	)
}

var (
	byLogicalTableBinding = logicalRouterBinding("__dbz__physicalTableIdentifier")
	toLogicalTopicBinding = logicalRouterBinding("__dbz__sourceIdentifier")
)

// NewByLogicalTableRouter returns an unconfigured ByLogicalTableRouter.
func NewByLogicalTableRouter() *ByLogicalTableRouter {
	return &ByLogicalTableRouter{class: "ByLogicalTableRouter", defKeyName: "__dbz__physicalTableIdentifier"}
}

// NewToLogicalTopicRouter returns an unconfigured router with Debezium's
// ToLogicalTopicRouter defaults.
func NewToLogicalTopicRouter() *ByLogicalTableRouter {
	return &ByLogicalTableRouter{class: "ToLogicalTopicRouter", defKeyName: "__dbz__sourceIdentifier"}
}

// Config returns Debezium's keys.
func (t *ByLogicalTableRouter) Config() *config.Def { return t.binding().Def() }

func (t *ByLogicalTableRouter) binding() *config.Binding[ByLogicalTableRouter] {
	if t.class == "ToLogicalTopicRouter" {
		return toLogicalTopicBinding
	}
	return byLogicalTableBinding
}

// Configure compiles the regexes.
func (t *ByLogicalTableRouter) Configure(props map[string]string) error {
	if _, err := configure(t.class, t.binding(), props, t); err != nil {
		return err
	}
	r, err := newReplacer(t.cfg.topicRegex, t.cfg.topicReplacement)
	if err != nil {
		return configError(t.class, "topic.replacement", t.cfg.topicReplacement, err.Error())
	}
	t.topics = &topicRouter{r: r}
	t.keyRe = nil
	if kr := strings.TrimSpace(t.cfg.keyRegex); kr != "" {
		repl := strings.TrimSpace(t.cfg.keyReplacement)
		if repl == "" {
			return configError(t.class, "key.field.replacement", "", "key.field.replacement must be non-empty if key.field.regex is set.")
		}
		if t.keyRe, err = newReplacer(kr, repl); err != nil {
			return configError(t.class, "key.field.replacement", repl, err.Error())
		}
	}
	t.keyIDs = stringCache[string]{}
	t.keySchemas, t.envelopes = map[schemaTopic]*connect.Schema{}, map[schemaTopic]*envelopePlan{}
	return nil
}

// ValidateConfig reports a key.field.regex without a replacement and bad
// group references.
func (t *ByLogicalTableRouter) ValidateConfig(props map[string]string, infos *config.Infos) {
	validateReplacement(props, "topic.regex", "topic.replacement", infos)
	if strings.TrimSpace(props["key.field.regex"]) != "" {
		if strings.TrimSpace(props["key.field.replacement"]) == "" {
			infos.AddError("key.field.replacement", "key.field.replacement must be non-empty if key.field.regex is set.")
		} else {
			validateReplacement(props, "key.field.regex", "key.field.replacement", infos)
		}
	}
}

func (t *ByLogicalTableRouter) schemaName(n string) string {
	switch t.adjust {
	case "avro":
		return adjustAvroName(n, false)
	case "avro_unicode":
		return adjustAvroName(n, true)
	}
	return n
}

// adjustAvroName replaces characters an Avro full name cannot hold.
func adjustAvroName(n string, unicode bool) string {
	var b strings.Builder
	for i, r := range n {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') ||
			(i > 0 && ((r >= '0' && r <= '9') || r == '.'))
		switch {
		case ok:
			b.WriteRune(r)
		case unicode:
			fmt.Fprintf(&b, "_u%04x", r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Apply reroutes a record whose topic matches topic.regex.
func (t *ByLogicalTableRouter) Apply(rec *connect.Record) (*connect.Record, error) {
	newTopic, ok := t.topics.route(rec.Topic)
	if !ok || newTopic == "" {
		return rec, nil
	}
	c := rec.Clone()
	c.Topic = newTopic
	c.KeySchema, c.Key = nil, nil
	if rec.Key != nil {
		if err := t.rekey(rec, c, newTopic); err != nil {
			return nil, err
		}
	}
	if rec.Value == nil || rec.ValueSchema == nil || !isEnvelope(rec.ValueSchema, rec.Value) {
		return c, nil
	}
	env, ok := requireStruct(rec.Value)
	if !ok {
		return nil, recordErr(t.class, rec, "", "expected a struct envelope, got %T", rec.Value)
	}
	plan := t.envelopePlan(env.Schema(), newTopic)
	out := connect.NewStruct(plan.schema)
	for i := range env.Schema().Fields {
		x := env.GetAt(i)
		if plan.rowIdx[i] && x != nil {
			row, ok := requireStruct(x)
			if !ok {
				return nil, recordErr(t.class, rec, env.Schema().Fields[i].Name, "expected a struct, got %T", x)
			}
			nr := connect.NewStruct(plan.row)
			for j := range plan.row.Fields {
				nr.SetAt(j, row.RawAt(j))
			}
			x = nr
		}
		out.SetAt(i, x)
	}
	c.ValueSchema, c.Value = plan.schema, out
	return c, nil
}

// physicalID is the identifier of the physical table written to the key.
func (t *ByLogicalTableRouter) physicalID(topic string) string {
	if t.keyRe == nil {
		return topic
	}
	if id, ok := t.keyIDs.get(topic); ok {
		return id
	}
	id, ok := t.keyRe.replace(topic)
	if !ok {
		id = topic
	}
	t.keyIDs.put(topic, id)
	return id
}

func (t *ByLogicalTableRouter) rekey(rec, c *connect.Record, newTopic string) error {
	if rec.KeySchema == nil {
		m, ok := requireMap(rec.Key)
		if !ok {
			return recordErr(t.class, rec, "", "only a struct or map key can be rerouted, got %T", rec.Key)
		}
		out := make(map[string]any, len(m)+1)
		for k, x := range m {
			out[k] = x
		}
		if t.enforce {
			out[t.keyField] = t.physicalID(rec.Topic)
		}
		c.Key = out
		return nil
	}
	key, ok := requireStruct(rec.Key)
	if !ok {
		return recordErr(t.class, rec, "", "only a struct key can be rerouted, got %T", rec.Key)
	}
	st := schemaTopic{key.Schema(), newTopic}
	ks := t.keySchemas[st]
	if ks == nil {
		fields := append([]connect.Field(nil), key.Schema().Fields...)
		if t.enforce {
			fields = append(fields, connect.F(t.keyField, connect.StringSchema))
		}
		var err error
		if ks, err = newStructSchema(key.Schema(), fields); err != nil {
			return recordErr(t.class, rec, t.keyField, "%v", err)
		}
		ks.Name = t.schemaName(newTopic + ".Key")
		if len(t.keySchemas) >= cacheSize {
			clear(t.keySchemas)
		}
		t.keySchemas[st] = ks
	}
	nk := connect.NewStruct(ks)
	n := len(key.Schema().Fields)
	for i := 0; i < n; i++ {
		nk.SetAt(i, key.RawAt(i))
	}
	if t.enforce {
		nk.SetAt(n, t.physicalID(rec.Topic))
	}
	c.KeySchema, c.Key = ks, nk
	return nil
}

func (t *ByLogicalTableRouter) envelopePlan(es *connect.Schema, newTopic string) *envelopePlan {
	st := schemaTopic{es, newTopic}
	if p := t.envelopes[st]; p != nil {
		return p
	}
	p := &envelopePlan{rowIdx: map[int]bool{}}
	rf, ok := es.Field(envBefore)
	if !ok {
		rf, ok = es.Field(envAfter)
	}
	if ok && rf.Schema.Type == connect.TypeStruct {
		row := *rf.Schema
		row.Name = t.schemaName(newTopic + ".Value")
		p.row = &row
	}
	fields := make([]connect.Field, len(es.Fields))
	for i, f := range es.Fields {
		fields[i] = connect.F(f.Name, f.Schema)
		if p.row != nil && (f.Name == envBefore || f.Name == envAfter) {
			fields[i].Schema = p.row
			p.rowIdx[i] = true
		}
	}
	p.schema, _ = newStructSchema(es, fields) // the names are those of a valid schema
	p.schema.Name = t.schemaName(newTopic + ".Envelope")
	if len(t.envelopes) >= cacheSize {
		clear(t.envelopes)
	}
	t.envelopes[st] = p
	return p
}

// Close does nothing.
func (*ByLogicalTableRouter) Close() error { return nil }
