package transforms

import (
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
)

const unwrapClass = "io.debezium.transforms.ExtractNewRecordState"

func TestUnwrapCreateUpdate(t *testing.T) {
	tr := newT(t, unwrapClass, map[string]string{})
	for _, op := range []string{"c", "r", "u"} {
		in := change(t, op, row(t, 1, "Old"), row(t, 1, "Ann"))
		out := apply(t, tr, in)
		if out.ValueSchema != rowSchema.Fields[0].Schema && out.ValueSchema.Name != "db.public.customers.Value" {
			t.Fatal(out.ValueSchema)
		}
		if out.Value.(*connect.Struct).Get("first_name") != "Ann" || out.Topic != in.Topic || out.Key != in.Key {
			t.Fatalf("op %s: %v", op, out)
		}
	}
	out := apply(t, tr, changeMap("c", nil, rowMap(1, "Ann")))
	wantValue(t, out.Value, rowMap(1, "Ann"))
	// Non-envelope records (heartbeats, schema changes) pass; truncates drop.
	hb := &connect.Record{Topic: "__debezium-heartbeat.db", ValueSchema: connect.NewStructSchema("io.debezium.connector.common.Heartbeat",
		connect.F("ts_ms", connect.Int64Schema)), Value: nil}
	hb.Value = mkStruct(t, hb.ValueSchema, "ts_ms", int64(1))
	if apply(t, tr, hb) != hb {
		t.Fatal("heartbeat changed")
	}
	if out := apply(t, tr, change(t, "t", nil, nil)); out != nil {
		t.Fatal("truncate kept")
	}
}

func TestUnwrapDeleteModes(t *testing.T) {
	type result struct {
		dropped  bool
		nilValue bool
		schema   bool // value schema kept on a nil value
		deleted  string
	}
	cases := []struct {
		props     map[string]string
		delete    result
		tombstone bool // tombstone kept
		createDel string
	}{
		{map[string]string{}, result{nilValue: true, schema: true}, false, ""},
		{map[string]string{"delete.tombstone.handling.mode": "tombstone"}, result{nilValue: true, schema: true}, false, ""},
		{map[string]string{"delete.tombstone.handling.mode": "drop"}, result{dropped: true}, false, ""},
		{map[string]string{"delete.tombstone.handling.mode": "rewrite"}, result{deleted: "true"}, false, "false"},
		{map[string]string{"delete.tombstone.handling.mode": "rewrite-with-tombstone"}, result{deleted: "true"}, true, "false"},
		{map[string]string{"delete.tombstone.handling.mode": "delete-to-tombstone"}, result{nilValue: true}, false, ""},
		// Debezium before 2.5.
		{map[string]string{"drop.tombstones": "false"}, result{dropped: true}, true, ""},
		{map[string]string{"delete.handling.mode": "rewrite"}, result{deleted: "true"}, false, "false"},
		{map[string]string{"delete.handling.mode": "none", "drop.tombstones": "false"}, result{nilValue: true, schema: true}, true, ""},
	}
	for _, c := range cases {
		tr := newT(t, unwrapClass, c.props)
		out := apply(t, tr, change(t, "d", row(t, 1, "Ann"), nil))
		switch {
		case c.delete.dropped:
			if out != nil {
				t.Errorf("%v: delete kept", c.props)
			}
		case c.delete.nilValue:
			if out == nil || out.Value != nil || (out.ValueSchema != nil) != c.delete.schema || out.Key == nil {
				t.Errorf("%v: delete gave %+v", c.props, out)
			}
		default:
			st := out.Value.(*connect.Struct)
			if st.Get("__deleted") != c.delete.deleted || st.Get("first_name") != "Ann" {
				t.Errorf("%v: delete gave %v", c.props, st)
			}
		}
		tomb := &connect.Record{Topic: "db.public.customers", Key: 1}
		if got := apply(t, tr, tomb); (got != nil) != c.tombstone {
			t.Errorf("%v: tombstone kept=%v", c.props, got != nil)
		}
		out = apply(t, tr, change(t, "c", nil, row(t, 1, "Ann")))
		if got, _ := out.Value.(*connect.Struct).Get("__deleted").(string); got != c.createDel {
			t.Errorf("%v: create __deleted=%q", c.props, got)
		}
		// Schemaless deletes behave alike.
		mo := apply(t, tr, changeMap("d", rowMap(1, "Ann"), nil))
		if c.delete.deleted != "" && mo.Value.(map[string]any)["__deleted"] != "true" {
			t.Errorf("%v: schemaless rewrite %v", c.props, mo.Value)
		}
	}
	wantErrContains(t, configErr(t, unwrapClass, map[string]string{"delete.tombstone.handling.mode": "keep"}), "ExtractNewRecordState", "delete.tombstone.handling.mode")
}

func TestUnwrapAddFieldsAndHeaders(t *testing.T) {
	// Debezium's documentation example: add.fields=op,table,lsn,source.ts_ms.
	tr := newT(t, unwrapClass, map[string]string{"add.fields": "op,table,lsn,source.ts_ms", "add.headers": "db,op", "delete.tombstone.handling.mode": "rewrite"})
	out := apply(t, tr, change(t, "u", row(t, 1, "Old"), row(t, 1, "Ann")))
	if got := fieldNames(out.ValueSchema); !strings.HasSuffix(got, ",__deleted:string?,__op:string?,__table:string?,__lsn:int64?,__source_ts_ms:int64?") {
		t.Fatal(got)
	}
	st := out.Value.(*connect.Struct)
	if st.Get("__op") != "u" || st.Get("__table") != "customers" || st.Get("__lsn") != int64(24023128) ||
		st.Get("__source_ts_ms") != int64(1700000000000) || st.Get("__deleted") != "false" {
		t.Fatal(st)
	}
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	if h, _ := out.Headers.Last("__db"); h.Value != "shop" {
		t.Fatal(out.Headers)
	}
	if h, _ := out.Headers.Last("__op"); h.Value != "u" {
		t.Fatal(out.Headers)
	}
	// The output schema is cached.
	out2 := apply(t, tr, change(t, "u", row(t, 1, "Old"), row(t, 2, "Bo")))
	if out2.ValueSchema != out.ValueSchema {
		t.Fatal("schema rebuilt")
	}
	// Schemaless, with a custom prefix and a renamed field.
	tr = newT(t, unwrapClass, map[string]string{"add.fields": "op,source.ts_ms:event_ts", "add.fields.prefix": "_", "add.headers": "op", "add.headers.prefix": "dbz."})
	out = apply(t, tr, changeMap("c", nil, rowMap(1, "Ann")))
	m := out.Value.(map[string]any)
	if m["_op"] != "c" || m["_event_ts"] != float64(1700000000000) || m["first_name"] != "Ann" {
		t.Fatal(m)
	}
	if h, _ := out.Headers.Last("dbz.op"); h.Value != "c" {
		t.Fatal(out.Headers)
	}
	wantErrContains(t, configErr(t, unwrapClass, map[string]string{"add.fields": "a:b:c"}), "add.fields")
}

func TestUnwrapRouteAndDropFields(t *testing.T) {
	tr := newT(t, unwrapClass, map[string]string{"route.by.field": "region"})
	if out := apply(t, tr, change(t, "c", nil, row(t, 1, "Ann"))); out.Topic != "eu" {
		t.Fatal(out.Topic)
	}
	tr = newT(t, unwrapClass, map[string]string{"route.by.field": "region", "delete.tombstone.handling.mode": "rewrite"})
	if out := apply(t, tr, change(t, "d", row(t, 1, "Ann"), nil)); out.Topic != "eu" {
		t.Fatal(out.Topic)
	}
	tr = newT(t, unwrapClass, map[string]string{"route.by.field": "nope"})
	_, err := tr.Apply(change(t, "c", nil, row(t, 1, "Ann")))
	wantRecordErr(t, err, "ExtractNewRecordState", `"nope"`)

	tr = newT(t, unwrapClass, map[string]string{"drop.fields.header.name": "drop"})
	in := change(t, "u", nil, row(t, 1, "Ann"))
	in.Headers.Add("drop", nil, []any{"email", "id"}) // id is required: kept with keep.schema.compatible
	out := apply(t, tr, in)
	if fieldNames(out.ValueSchema) != "id:int32,first_name:string?,score:double?,qty:string?,region:string?" {
		t.Fatal(fieldNames(out.ValueSchema))
	}
	tr = newT(t, unwrapClass, map[string]string{"drop.fields.header.name": "drop", "drop.fields.keep.schema.compatible": "false"})
	out = apply(t, tr, in)
	if strings.Contains(fieldNames(out.ValueSchema), "id:") {
		t.Fatal(fieldNames(out.ValueSchema))
	}
}

func TestByLogicalTableRouter(t *testing.T) {
	// Debezium's documentation example: shards routed to one topic.
	tr := newT(t, "io.debezium.transforms.ByLogicalTableRouter",
		map[string]string{"topic.regex": "(.*)customers_shard(.*)", "topic.replacement": "$1customers_all_shards"})
	in := change(t, "c", nil, row(t, 1, "Ann"))
	in.Topic = "myserver.mydb.customers_shard1"
	out := apply(t, tr, in)
	if out.Topic != "myserver.mydb.customers_all_shards" {
		t.Fatal(out.Topic)
	}
	if out.KeySchema.Name != "myserver.mydb.customers_all_shards.Key" || fieldNames(out.KeySchema) != "id:int32,__dbz__physicalTableIdentifier:string" {
		t.Fatal(out.KeySchema.Name, fieldNames(out.KeySchema))
	}
	if k := out.Key.(*connect.Struct); k.Get("__dbz__physicalTableIdentifier") != "myserver.mydb.customers_shard1" || k.Get("id") != int32(1) {
		t.Fatal(k)
	}
	env := out.Value.(*connect.Struct)
	if out.ValueSchema.Name != "myserver.mydb.customers_all_shards.Envelope" ||
		env.Get("after").(*connect.Struct).Schema().Name != "myserver.mydb.customers_all_shards.Value" ||
		env.Get("after").(*connect.Struct).Get("first_name") != "Ann" || env.Get("op") != "c" {
		t.Fatal(out.ValueSchema.Name, env)
	}
	if err := out.ValueSchema.Validate(env); err != nil {
		t.Fatal(err)
	}
	// key.field.regex derives the identifier; tombstones keep a null value.
	tr = newT(t, "ByLogicalTableRouter", map[string]string{"topic.regex": "(.*)customers_shard(.*)", "topic.replacement": "$1customers_all_shards",
		"key.field.regex": ".*_shard(.*)", "key.field.replacement": "$1", "key.field.name": "shard"})
	tomb := &connect.Record{Topic: "s.d.customers_shard7", KeySchema: keySchema, Key: mkStruct(t, keySchema, "id", int32(3))}
	out = apply(t, tr, tomb)
	if out.Value != nil || out.Key.(*connect.Struct).Get("shard") != "7" {
		t.Fatal(out)
	}
	// Non-matching topics are untouched.
	other := &connect.Record{Topic: "orders"}
	if apply(t, tr, other) != other {
		t.Fatal("rerouted")
	}
	wantErrContains(t, configErr(t, "ByLogicalTableRouter", map[string]string{"topic.regex": "x", "topic.replacement": "y", "key.field.regex": "(.*)"}), "key.field.replacement")
	wantErrContains(t, configErr(t, "ByLogicalTableRouter", map[string]string{"topic.replacement": "y"}), "topic.regex")
	tt := newT(t, "io.debezium.transforms.ToLogicalTopicRouter", map[string]string{"topic.regex": "(.*)_shard(.*)", "topic.replacement": "$1"})
	out = apply(t, tt, tomb)
	if out.Key.(*connect.Struct).Get("__dbz__sourceIdentifier") != "s.d.customers_shard7" {
		t.Fatal(out.Key)
	}
}

var outboxSchema = connect.NewStructSchema("dbserver1.public.outboxevent.Value",
	connect.F("id", connect.StringSchema),
	connect.F("aggregatetype", connect.StringSchema),
	connect.F("aggregateid", connect.StringSchema),
	connect.F("type", connect.StringSchema),
	connect.F("payload", connect.OptionalStringSchema),
	connect.F("tenant", connect.OptionalStringSchema),
)

var outboxEnvelope = connect.NewStructSchema("dbserver1.public.outboxevent.Envelope",
	connect.F("before", connect.OptionalOf(outboxSchema)),
	connect.F("after", connect.OptionalOf(outboxSchema)),
	connect.F("op", connect.StringSchema),
	connect.F("ts_ms", connect.OptionalInt64Schema),
)

func outboxRec(t testing.TB, op string, payload any) *connect.Record {
	r := mkStruct(t, outboxSchema, "id", "406c07f3-26f0-4eea-a50c-109940064b8f", "aggregatetype", "Order", "aggregateid", "1",
		"type", "OrderCreated", "tenant", "acme")
	if payload != nil {
		r.SetAt(4, payload)
	}
	env := connect.NewStruct(outboxEnvelope)
	if op == "d" {
		env.SetAt(0, r)
	} else {
		env.SetAt(1, r)
	}
	env.SetAt(2, op)
	env.SetAt(3, int64(1556890294484))
	return &connect.Record{Topic: "dbserver1.public.outboxevent", ValueSchema: outboxEnvelope, Value: env}
}

func TestEventRouter(t *testing.T) {
	// Debezium's documentation example: an Order event routed to outbox.event.Order.
	payload := `{"id": 1, "customerId": 123, "lines": [{"item": "Debezium in Action", "qty": 2}]}`
	tr := newT(t, "io.debezium.transforms.outbox.EventRouter", map[string]string{})
	out := apply(t, tr, outboxRec(t, "c", payload))
	if out.Topic != "outbox.event.Order" || out.Key != "1" || out.KeySchema != connect.StringSchema || out.Value != payload {
		t.Fatalf("%+v", out)
	}
	if h, _ := out.Headers.Last("id"); h.Value != "406c07f3-26f0-4eea-a50c-109940064b8f" {
		t.Fatal(out.Headers)
	}
	if !out.Timestamp.Equal(time.UnixMilli(1556890294484)) {
		t.Fatal(out.Timestamp)
	}
	for _, op := range []string{"d", "u"} {
		if got := apply(t, tr, outboxRec(t, op, payload)); got != nil {
			t.Fatalf("op %s kept", op)
		}
	}
	if apply(t, tr, &connect.Record{Topic: "x"}) != nil {
		t.Fatal("tombstone kept")
	}
	_, err := newT(t, "EventRouter", map[string]string{"table.op.invalid.behavior": "fatal"}).Apply(outboxRec(t, "u", payload))
	wantRecordErr(t, err, "EventRouter", "update")

	// Additional fields in the envelope and headers, custom routing.
	tr = newT(t, "outbox", map[string]string{"table.fields.additional.placement": "type:header:eventType,tenant:envelope",
		"route.topic.replacement": "${routedByValue}.events"})
	out = apply(t, tr, outboxRec(t, "c", payload))
	if out.Topic != "Order.events" || out.ValueSchema.Name != "dbserver1.public.outboxevent.Order.Value" {
		t.Fatal(out.Topic, out.ValueSchema.Name)
	}
	wantValue(t, out.Value, map[string]any{"payload": payload, "tenant": "acme"})
	if h, _ := out.Headers.Last("eventType"); h.Value != "OrderCreated" {
		t.Fatal(out.Headers)
	}
	// Expanded JSON payload with an inferred schema.
	tr = newT(t, "outbox", map[string]string{"table.expand.json.payload": "true"})
	out = apply(t, tr, outboxRec(t, "c", payload))
	if got := fieldNames(out.ValueSchema); got != "id:int64?,customerId:int64?,lines:array<struct<item:string?,qty:int64?>?>?" {
		t.Fatal(got)
	}
	st := out.Value.(*connect.Struct)
	if st.Get("customerId") != int64(123) || st.Get("lines").([]any)[0].(*connect.Struct).Get("item") != "Debezium in Action" {
		t.Fatal(st)
	}
	// Tombstone on an empty payload.
	tr = newT(t, "outbox", map[string]string{"route.tombstone.on.empty.payload": "true"})
	if out := apply(t, tr, outboxRec(t, "c", nil)); out.Value != nil || out.Key != "1" {
		t.Fatal(out)
	}
	// Schemaless outbox rows.
	tr = newT(t, "outbox", map[string]string{})
	m := &connect.Record{Topic: "t", Value: map[string]any{"op": "c", "before": nil, "ts_ms": float64(1556890294484), "after": map[string]any{
		"id": "e1", "aggregatetype": "Customer", "aggregateid": "7", "type": "Created", "payload": map[string]any{"x": 1.0}}}}
	out = apply(t, tr, m)
	if out.Topic != "outbox.event.Customer" || out.Key != "7" || out.KeySchema != nil {
		t.Fatal(out)
	}
	wantValue(t, out.Value, map[string]any{"x": 1.0})
	wantErrContains(t, configErr(t, "outbox", map[string]string{"table.fields.additional.placement": "type:nowhere"}), "table.fields.additional.placement")
}
