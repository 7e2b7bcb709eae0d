package jaas

import "testing"

func TestParse(t *testing.T) {
	c, err := Parse(`org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="a \"b\"" user_admin="x" user_alice=y;`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Module != "org.apache.kafka.common.security.plain.PlainLoginModule" || c.Flag != "required" {
		t.Fatalf("%+v", c)
	}
	want := map[string]string{"username": "admin", "password": `a "b"`, "user_admin": "x", "user_alice": "y"}
	for k, v := range want {
		if c.Options[k] != v {
			t.Errorf("%s=%q, want %q", k, c.Options[k], v)
		}
	}
	if _, err := Parse(`Mod required username="x`); err == nil {
		t.Fatal("unterminated quote accepted")
	}
}
