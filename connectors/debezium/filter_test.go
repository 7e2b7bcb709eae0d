package debezium

import "testing"

func TestFilter(t *testing.T) {
	system := func(c string) bool { return c == "sys" }
	f, err := NewFilter(system, []string{"inv.*"}, nil, nil, []string{"inventory\\.secret.*"}, nil, []string{".*\\.password"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		container, table string
		want             bool
	}{
		{"inventory", "orders", true},
		{"inventory", "secrets", false}, // table exclude list
		{"sales", "orders", false},      // not in the container include list
		{"xinventory", "orders", false}, // a regex matches the whole name
		{"sys", "orders", false},        // system containers are never captured
	} {
		if got := f.Table(c.container, c.table); got != c.want {
			t.Errorf("Table(%q, %q) = %v, want %v", c.container, c.table, got, c.want)
		}
	}
	if f.Column("inventory", "users", "password") || !f.Column("inventory", "users", "name") {
		t.Error("column exclude list not applied")
	}
	if _, err := NewFilter(system, []string{"("}, nil, nil, nil, nil, nil); err == nil {
		t.Error("a bad regular expression was accepted")
	}
}
