package main

import (
	"os"
	"strings"
	"testing"
)

// The commands README.md shows (go run ./cmd/penstock <command> ...) use
// flags the commands have.
func TestReadmeCommandsParse(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "go run ./cmd/penstock "
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		i := strings.Index(line, prefix)
		if i < 0 {
			continue
		}
		args := strings.Fields(line[i+len(prefix):])
		cmd, rest, err := rootCmd.Find(args)
		if err != nil {
			t.Errorf("%s: %v", line, err)
			continue
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Errorf("%s: %v", line, err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("README shows no command")
	}
}
