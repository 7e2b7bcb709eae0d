package connfile

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseForms(t *testing.T) {
	want := map[string]string{"name": "pg", "connector.class": "postgres", "tasks.max": "1", "snapshot": "true", "table.include.list": "public.a,public.b"}
	for _, tc := range []struct{ file, data, state string }{
		{"body.json", `{"name":"pg","config":{"connector.class":"postgres","tasks.max":"1","snapshot":"true","table.include.list":"public.a,public.b"},"initial_state":"paused"}`, "PAUSED"},
		{"flat.json", `{"name":"pg","connector.class":"postgres","tasks.max":1,"snapshot":true,"table.include.list":["public.a","public.b"]}`, ""},
		{"body.yaml", "name: pg\ninitial_state: STOPPED\nconfig:\n  connector.class: postgres\n  tasks.max: 1\n  snapshot: true\n  table.include.list: [public.a, public.b]\n", "STOPPED"},
		{"flat.yml", "name: pg\nconnector.class: postgres\ntasks.max: \"1\"\nsnapshot: \"true\"\ntable.include.list: public.a,public.b\ninitial.state: running\n", "RUNNING"},
		{"pg.properties", "# connect-standalone style\nname=pg\nconnector.class=postgres\ntasks.max=1\nsnapshot=true\ntable.include.list=public.a,\\\n  public.b\n", ""},
	} {
		cs, err := Parse([]byte(tc.data), tc.file)
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if len(cs) != 1 || cs[0].Name != "pg" || cs[0].InitialState != tc.state || cs[0].File != tc.file || !maps.Equal(cs[0].Config, want) {
			t.Errorf("%s: got %+v", tc.file, cs)
		}
	}
}

func TestParseSeveralAndOffsets(t *testing.T) {
	cs, err := Parse([]byte("name: a\nconnector.class: datagen\n---\nname: b\nconfig: {connector.class: datagen}\noffsets:\n  - partition: {task: 0}\n    offset: {seq: 9007199254740993}\n"), "x.yaml")
	if err != nil || len(cs) != 2 || cs[1].Name != "b" || len(cs[1].Offsets) != 1 {
		t.Fatalf("YAML documents: %v %+v", err, cs)
	}
	// Offsets keep their numbers exactly (above 2^53 too).
	if got := fmt.Sprint(cs[1].Offsets[0].Offset["seq"]); got != "9007199254740993" {
		t.Errorf("offset = %s", got)
	}
	cs, err = Parse([]byte(`[{"name":"a","connector.class":"datagen"},{"name":"b","config":{"connector.class":"datagen"},"offsets":{"offsets":[{"partition":{"task":0},"offset":{"seq":1}}]}}]`), "x.json")
	if err != nil || len(cs) != 2 || len(cs[1].Offsets) != 1 {
		t.Fatalf("JSON array: %v %+v", err, cs)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ file, data, want string }{
		{"a.json", `{"name":"a","config":{"tasks.max":{"x":1}}}`, "a.json: config: key tasks.max: a value must be a string, number or boolean, not an object"},
		{"a.json", `{"name":"a","config":{},"state":"PAUSED"}`, `unknown field "state"`},
		{"a.json", `{"config":{"connector.class":"x"}}`, "no connector name"},
		{"a.json", `{"name":"a","config":{"name":"b"}}`, `config name "b" differs from the connector's name "a"`},
		{"a.json", `{"name":"a","config":{},"initial_state":"GONE"}`, `initial state "GONE"`},
		{"a.json", `{"name":"a"} {"name":"b"}`, "more than one JSON value"},
		{"a.yaml", "name: a\nconfig:\n  k: ~\n", "key k: no value (null)"},
		{"a.yaml", "name: a\nname: b\n", "key name given twice"},
		{"a.json", `{"name":"a","config":{},"offsets":[{"offset":{"x":1}}]}`, "offsets: entry 0 has no partition"},
		{"a.properties", "", "no connector name"},
		{"a.json", `{"name":"a","config":"connector.class=x"}`, "config: must be an object of keys and values, not a string"},
	} {
		_, err := Parse([]byte(tc.data), tc.file)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: err = %v, want %q", tc.file, tc.data, err, tc.want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.json", `{"name":"a","connector.class":"datagen"}`)
	write("b.properties", "name=b\nconnector.class=datagen\n")
	write("README.md", "not a connector")
	write(".hidden.json", "not read")
	cs, err := Load(dir)
	if err != nil || len(cs) != 2 || cs[0].Name != "a" || cs[1].Name != "b" {
		t.Fatalf("Load: %v %+v", err, cs)
	}
	// Every problem of every file, a name defined twice among them.
	write("c.yaml", "name: a\nconnector.class: datagen\n")
	write("d.json", "{")
	_, err = Load(dir)
	if err == nil || !strings.Contains(err.Error(), "c.yaml: connector a is also defined in") || !strings.Contains(err.Error(), "d.json: not JSON") {
		t.Errorf("Load of bad files: %v", err)
	}
}

func TestWriteRoundTrip(t *testing.T) {
	in := []Connector{
		{Name: "a", Config: map[string]string{"name": "a", "connector.class": "datagen", "tasks.max": "1", "flag": "true", "empty": "", "text": "line1\nline2: x # y"}},
		{Name: "b", Config: map[string]string{"name": "b", "connector.class": "datagen", "pw": "${env:PW}"}, InitialState: "STOPPED"},
	}
	for _, format := range Formats() {
		var files [][]byte
		if format == Properties {
			for _, c := range in {
				var b bytes.Buffer
				if err := Write(&b, format, []Connector{c}); err != nil {
					t.Fatal(err)
				}
				files = append(files, b.Bytes())
			}
			if err := Write(&bytes.Buffer{}, format, in); err == nil {
				t.Error("two connectors in one properties file")
			}
		} else {
			var b bytes.Buffer
			if err := Write(&b, format, in); err != nil {
				t.Fatal(err)
			}
			files = append(files, b.Bytes())
		}
		var out []Connector
		for _, f := range files {
			cs, err := Parse(f, "x."+format)
			if err != nil {
				t.Fatalf("%s: %v\n%s", format, err, f)
			}
			out = append(out, cs...)
		}
		for i := range out {
			out[i].File = ""
		}
		if !reflect.DeepEqual(in, out) {
			t.Errorf("%s round trip:\ngot  %+v\nwant %+v", format, out, in)
		}
	}
}
