package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

var testDef = NewDef(
	Key{Name: "file", Type: String, Required: true, Importance: High, Doc: "Path.", Group: "Source"},
	Key{Name: "batch.size", Type: Int, Default: 2000, Validator: AtLeast(1), Importance: Low, Doc: "Batch."},
	Key{Name: "mode", Type: String, Default: "append", Validator: OneOf("append", "truncate"), Importance: Low},
	Key{Name: "topics", Type: List, Default: []string{}, Importance: High},
	Key{Name: "password", Type: Password, Importance: High},
	Key{Name: "linger.ms", Type: Long, Default: int64(1), Importance: Low},
	Key{Name: "enabled", Type: Boolean, Default: true, Importance: Low},
)

func TestParseTypedValuesAndDefaults(t *testing.T) {
	v, err := testDef.Parse(map[string]string{"file": "/tmp/x", "topics": " a, b ,,c", "password": "s3cret", "linger.ms": "250", "mode": "TRUNCATE"})
	if err != nil {
		t.Fatal(err)
	}
	if v.String("file") != "/tmp/x" || v.Int("batch.size") != 2000 || v.Long("linger.ms") != 250 || !v.Bool("enabled") {
		t.Fatalf("parsed %+v", v.parsed)
	}
	if got := strings.Join(v.List("topics"), "|"); got != "a|b|c" {
		t.Fatalf("list = %q", got)
	}
	if v.Password("password").Value() != "s3cret" {
		t.Fatal("secret value lost")
	}
	if s := fmt.Sprintf("%v %s %#v", v.Password("password"), v.Password("password"), v.Password("password")); strings.Contains(s, "s3cret") {
		t.Fatalf("secret leaked through fmt: %s", s)
	}
	if b, _ := json.Marshal(v.Password("password")); strings.Contains(string(b), "s3cret") {
		t.Fatalf("secret leaked through json: %s", b)
	}
}

func TestParseReportsEveryProblemByKey(t *testing.T) {
	_, err := testDef.Parse(map[string]string{"batch.size": "0", "mode": "x", "password": "s3cret", "linger.ms": "soon"})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{`"file"`, "batch.size", "mode", "linger.ms"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not name %s: %s", want, msg)
		}
	}
	if strings.Contains(msg, "s3cret") {
		t.Errorf("error leaks a password: %s", msg)
	}
}

func TestValidateMatchesConfigInfosShape(t *testing.T) {
	infos := testDef.Validate("FileStreamSource", map[string]string{"batch.size": "x", "password": "s3cret"})
	if infos.ErrorCount != 2 {
		t.Fatalf("error_count = %d, want 2 (file missing, batch.size bad)", infos.ErrorCount)
	}
	b, err := json.Marshal(infos)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`"name":"FileStreamSource"`, `"groups":["Source"]`,
		`{"definition":{"name":"file","type":"STRING","required":true,"default_value":null,"importance":"HIGH","documentation":"Path.","group":"Source","order":0,"width":"NONE","display_name":"file","dependents":[]},"value":{"name":"file","value":null,"recommended_values":[],"errors":["Missing required configuration \"file\" which has no default value."],"visible":true}}`,
		`"default_value":"2000"`,
		`"value":"[hidden]"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("validate JSON lacks %s\n%s", want, s)
		}
	}
	if strings.Contains(s, "s3cret") {
		t.Error("validate echoes the password")
	}
}

func TestInfosAddAndAddError(t *testing.T) {
	a := NewDef(Key{Name: "x", Type: Int, Required: true}).Validate("c", map[string]string{})
	b := NewDef(Key{Name: "x", Type: Int, Required: true}, Key{Name: "y", Type: String, Default: "d", Group: "G"}).Validate("c", map[string]string{})
	a.Add(b)
	if len(a.Configs) != 2 || a.ErrorCount != 1 || len(a.Groups) != 1 {
		t.Fatalf("Add: %d configs, %d errors, groups %v", len(a.Configs), a.ErrorCount, a.Groups)
	}
	a.AddError("y", "y conflicts with x")
	a.AddError("z", "z is unknown")
	if a.ErrorCount != 3 || len(a.Problems()) != 3 {
		t.Fatalf("AddError: %d errors, problems %v", a.ErrorCount, a.Problems())
	}
}

func TestMaskPasswordsKeepsProviderReferences(t *testing.T) {
	out := MaskPasswords(map[string]string{"password": "s3cret", "file": "/x"}, testDef)
	if out["password"] != HiddenValue || out["file"] != "/x" {
		t.Fatalf("masked %v", out)
	}
	out = MaskPasswords(map[string]string{"password": "${env:DB_PASSWORD}"}, testDef)
	if out["password"] != "${env:DB_PASSWORD}" {
		t.Fatalf("provider reference masked: %v", out)
	}
}

func TestWithAndMerge(t *testing.T) {
	d := testDef.With(Key{Name: "batch.size", Type: Int, Default: 10})
	k, _ := d.Key("batch.size")
	if k.Default != 10 || len(d.Keys()) != len(testDef.Keys()) {
		t.Fatalf("With replaced wrongly: %+v (%d keys)", k, len(d.Keys()))
	}
	m := Merge(NewDef(Key{Name: "a", Type: String}), nil, NewDef(Key{Name: "b", Type: String}))
	if len(m.Keys()) != 2 {
		t.Fatal("Merge")
	}
	if got := WithPrefix(map[string]string{"transforms.u.type": "X", "transforms.u.a": "1", "other": "2"}, "transforms.u."); len(got) != 2 || got["type"] != "X" {
		t.Fatalf("WithPrefix = %v", got)
	}
}
