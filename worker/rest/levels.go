package rest

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
)

// The log levels of Kafka Connect's /admin/loggers (log4j's names) as slog
// levels. DEBUG, INFO, WARN and ERROR are slog's own.
const (
	// LevelTrace is log4j's TRACE, finer than DEBUG.
	LevelTrace = slog.LevelDebug - 4
	// LevelFatal is log4j's FATAL, above ERROR.
	LevelFatal = slog.LevelError + 4
	// LevelOff logs nothing.
	LevelOff = slog.Level(math.MaxInt32)
	// LevelAll logs everything.
	LevelAll = slog.Level(math.MinInt32)
)

// RootLogger is the name of the root logger, as in Kafka Connect: its level
// is the default of every logger, and setting it sets them all.
const RootLogger = "root"

// ParseLevel reads a log4j level name (OFF, FATAL, ERROR, WARN, INFO, DEBUG,
// TRACE, ALL), in any case; ok is false for anything else.
func ParseLevel(s string) (level slog.Level, ok bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "OFF":
		return LevelOff, true
	case "FATAL":
		return LevelFatal, true
	case "ERROR":
		return slog.LevelError, true
	case "WARN":
		return slog.LevelWarn, true
	case "INFO":
		return slog.LevelInfo, true
	case "DEBUG":
		return slog.LevelDebug, true
	case "TRACE":
		return LevelTrace, true
	case "ALL":
		return LevelAll, true
	}
	return 0, false
}

// LevelName is the log4j name of level; a level between the named ones is
// shown as slog shows it (e.g. "INFO+2").
func LevelName(level slog.Level) string {
	switch level {
	case LevelOff:
		return "OFF"
	case LevelFatal:
		return "FATAL"
	case LevelTrace:
		return "TRACE"
	case LevelAll:
		return "ALL"
	}
	return level.String()
}

// LoggerLevel is Kafka Connect's LoggerLevel: a logger's level and when it
// was last set through the API (Unix milliseconds, null if never).
type LoggerLevel struct {
	Level        string `json:"level"`
	LastModified *int64 `json:"last_modified"`
}

// LogLevels is what /admin/loggers serves; *Levels implements it.
type LogLevels interface {
	// LoggerLevels returns every known logger's level, keyed by name.
	LoggerLevels() map[string]LoggerLevel
	// LoggerLevel returns one logger's level; ok is false for an unknown logger.
	LoggerLevel(name string) (level LoggerLevel, ok bool)
	// SetLoggerLevel sets the level of the logger namespace and of every
	// logger below it, and returns the names of the loggers it changed, sorted.
	SetLoggerLevel(namespace string, level slog.Level) []string
}

// Levels is a registry of named log levels: the worker builds each of its
// loggers with Logger (or Handler), and the level of a name decides what that
// logger writes. Setting a level through /admin/loggers therefore changes
// what is logged at once.
//
// Names are dotted and hierarchical, like Kafka Connect's logger names:
// "penstock.worker" is the parent of "penstock.worker.herder". Setting a
// level sets it for the name and every registered name below it; a name
// registered later starts at its nearest registered ancestor's level, or the
// root's. Levels is safe for concurrent use.
type Levels struct {
	mu      sync.Mutex
	loggers map[string]*namedLevel
	now     func() time.Time
}

// namedLevel is one logger's level and when the API last set it.
type namedLevel struct {
	v        *slog.LevelVar
	modified *int64
}

// NewLevels returns a registry whose root logger is at level root.
func NewLevels(root slog.Level) *Levels {
	v := new(slog.LevelVar)
	v.Set(root)
	return &Levels{
		loggers: map[string]*namedLevel{RootLogger: {v: v}},
		now:     time.Now,
	}
}

// Var returns the level of the logger name, registering it when new. The
// empty name is the root.
func (l *Levels) Var(name string) *slog.LevelVar {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.register(name).v
}

// register returns name's entry, creating it at its nearest ancestor's level.
func (l *Levels) register(name string) *namedLevel {
	name = canonical(name)
	if n, ok := l.loggers[name]; ok {
		return n
	}
	v := new(slog.LevelVar)
	v.Set(l.loggers[l.ancestor(name)].v.Level())
	n := &namedLevel{v: v}
	l.loggers[name] = n
	return n
}

// ancestor returns the nearest registered ancestor of name, or the root.
func (l *Levels) ancestor(name string) string {
	for {
		i := strings.LastIndexByte(name, '.')
		if i < 0 {
			return RootLogger
		}
		name = name[:i]
		if _, ok := l.loggers[name]; ok {
			return name
		}
	}
}

// canonical maps "" and any case of "root" to RootLogger.
func canonical(name string) string {
	if name == "" || strings.EqualFold(name, RootLogger) {
		return RootLogger
	}
	return name
}

// Handler returns a handler that writes to next what the logger name's
// level lets through. The level is checked on every record, so changes apply
// at once; next's own level option is not consulted (give it the lowest).
func (l *Levels) Handler(next slog.Handler, name string) slog.Handler {
	return &levelHandler{level: l.Var(name), next: next}
}

// Logger returns a logger named name: it writes through next at name's level
// and carries the attribute logger=name.
func (l *Levels) Logger(next slog.Handler, name string) *slog.Logger {
	return slog.New(l.Handler(next, name)).With("logger", canonical(name))
}

// LoggerLevels implements LogLevels.
func (l *Levels) LoggerLevels() map[string]LoggerLevel {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]LoggerLevel, len(l.loggers))
	for name, n := range l.loggers {
		out[name] = n.info()
	}
	return out
}

// LoggerLevel implements LogLevels.
func (l *Levels) LoggerLevel(name string) (LoggerLevel, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.loggers[canonical(name)]
	if !ok {
		return LoggerLevel{}, false
	}
	return n.info(), true
}

// SetLoggerLevel implements LogLevels. The namespace is registered if new,
// so loggers created under it later start at this level; the root sets every
// logger.
func (l *Levels) SetLoggerLevel(namespace string, level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	namespace = canonical(namespace)
	l.register(namespace)
	ms := l.now().UnixMilli()
	var changed []string
	for name, n := range l.loggers {
		if namespace == RootLogger || name == namespace || strings.HasPrefix(name, namespace+".") {
			n.v.Set(level)
			n.modified = &ms
			changed = append(changed, name)
		}
	}
	sort.Strings(changed)
	return changed
}

// info returns n as the API shows it.
func (n *namedLevel) info() LoggerLevel {
	var mod *int64
	if n.modified != nil {
		m := *n.modified
		mod = &m
	}
	return LoggerLevel{Level: LevelName(n.v.Level()), LastModified: mod}
}

// levelHandler filters records by a LevelVar and passes the rest on.
type levelHandler struct {
	level *slog.LevelVar
	next  slog.Handler
}

// Enabled reports whether the logger's current level lets level through.
func (h *levelHandler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.level.Level()
}

// Handle writes r through the next handler.
func (h *levelHandler) Handle(ctx context.Context, r slog.Record) error {
	if err := h.next.Handle(ctx, r); err != nil {
		return fmt.Errorf("log handler: %w", err)
	}
	return nil
}

// WithAttrs keeps the level on the derived handler.
func (h *levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &levelHandler{level: h.level, next: h.next.WithAttrs(attrs)}
}

// WithGroup keeps the level on the derived handler.
func (h *levelHandler) WithGroup(name string) slog.Handler {
	return &levelHandler{level: h.level, next: h.next.WithGroup(name)}
}
