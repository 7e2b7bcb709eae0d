package plugins

import (
	"testing"

	"github.com/penstockhq/penstock/connect"
)

func TestTransformPluginsResolveByClassSimpleAndShortNames(t *testing.T) {
	reg := Builtin()
	for name, kind := range map[string]Kind{
		"org.apache.kafka.connect.transforms.InsertField$Value": Transformation,
		"InsertField$Key":                              Transformation,
		"insert-field-value":                           Transformation,
		"io.debezium.transforms.ExtractNewRecordState": Transformation,
		"unwrap": Transformation,
		"io.debezium.transforms.outbox.EventRouter":                       Transformation,
		"io.debezium.transforms.ByLogicalTableRouter":                     Transformation,
		"org.apache.kafka.connect.transforms.predicates.TopicNameMatches": Predicate,
		"RecordIsTombstone": Predicate,
	} {
		p, err := reg.LookupKind(name, kind)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		inst := p.New()
		if _, ok := inst.(connect.Transformation); ok != (kind == Transformation) {
			t.Fatalf("%s: wrong kind", name)
		}
	}
	if _, err := reg.LookupKind("unwrap", Predicate); err == nil {
		t.Fatal("a transformation resolved as a predicate")
	}
}
