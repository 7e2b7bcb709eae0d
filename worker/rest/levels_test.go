package rest

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

func TestLevelsHierarchy(t *testing.T) {
	l := NewLevels(slog.LevelWarn)
	if got := l.Var("penstock.worker").Level(); got != slog.LevelWarn {
		t.Fatalf("new logger starts at %v, want the root's WARN", got)
	}
	l.SetLoggerLevel("penstock.worker", slog.LevelDebug)
	// Registered later under a set namespace: inherits it.
	if got := l.Var("penstock.worker.task.src-0").Level(); got != slog.LevelDebug {
		t.Fatalf("child registered later is at %v, want DEBUG", got)
	}
	// A sibling whose name merely starts with the same letters is not a child.
	if got := l.Var("penstock.workers").Level(); got != slog.LevelWarn {
		t.Fatalf("penstock.workers is at %v, want WARN", got)
	}
	changed := l.SetLoggerLevel("penstock.worker", LevelTrace)
	if want := []string{"penstock.worker", "penstock.worker.task.src-0"}; !slices.Equal(changed, want) {
		t.Fatalf("changed %v, want %v", changed, want)
	}
	changed = l.SetLoggerLevel("", slog.LevelError) // "" is the root
	if want := []string{"penstock.worker", "penstock.worker.task.src-0", "penstock.workers", "root"}; !slices.Equal(changed, want) {
		t.Fatalf("root changed %v, want %v", changed, want)
	}
	if lvl, ok := l.LoggerLevel("Root"); !ok || lvl.Level != "ERROR" || lvl.LastModified == nil {
		t.Fatalf("root = %+v, %v", lvl, ok)
	}
}

func TestLevelsHandlerFollowsChanges(t *testing.T) {
	l := NewLevels(slog.LevelInfo)
	var buf syncBuffer
	log := l.Logger(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError}), "penstock.rest").
		With("k", "v").WithGroup("g")
	log.Debug("hidden")
	log.Info("shown-info") // the base handler's own ERROR option is not consulted
	l.SetLoggerLevel("penstock", LevelOff)
	log.Error("hidden-off")
	l.SetLoggerLevel("penstock.rest", LevelTrace)
	log.Log(context.Background(), LevelTrace, "shown-trace")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, "shown-info") || !strings.Contains(out, "shown-trace") {
		t.Fatalf("unexpected output:\n%s", out)
	}
	if !strings.Contains(out, "logger=penstock.rest k=v") {
		t.Fatalf("logger name or attributes lost:\n%s", out)
	}
}

func TestParseLevelAndName(t *testing.T) {
	for _, name := range []string{"OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "ALL"} {
		lvl, ok := ParseLevel(strings.ToLower(name))
		if !ok || LevelName(lvl) != name {
			t.Errorf("ParseLevel(%q) = %v, %v; name %q", strings.ToLower(name), lvl, ok, LevelName(lvl))
		}
	}
	if _, ok := ParseLevel("VERBOSE"); ok {
		t.Error("ParseLevel accepted VERBOSE")
	}
	if got := LevelName(slog.LevelInfo + 2); got != "INFO+2" {
		t.Errorf("LevelName(INFO+2) = %q", got)
	}
}
