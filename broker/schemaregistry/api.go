package schemaregistry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/internal/httpauth"
)

// ContentType is the registry's media type.
const ContentType = "application/vnd.schemaregistry.v1+json"

// Option configures the registry's REST API.
type Option func(*options)

type options struct {
	creds      *httpauth.Credentials
	clientOpts []kgo.Opt
}

// WithCredentials requires every request to authenticate, with HTTP basic
// or a bearer token from creds, as the worker's REST API does (401
// otherwise), and lets read-only principals only read (403 on writes).
func WithCredentials(creds *httpauth.Credentials) Option {
	return func(o *options) { o.creds = creds }
}

// WithClientOpts adds franz-go options to Run's Kafka client of the
// _schemas topic: TLS and SASL to reach a secured broker.
func WithClientOpts(opts ...kgo.Opt) Option {
	return func(o *options) { o.clientOpts = append(o.clientOpts, opts...) }
}

// Handler returns the REST API of Confluent's Schema Registry over store.
func Handler(store *Store, opts ...Option) http.Handler {
	var o options
	for _, f := range opts {
		f(&o)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		var re *Error
		var he *echo.HTTPError
		switch {
		case errors.As(err, &re):
		case errors.As(err, &he):
			re = &Error{Code: he.Code, Message: fmt.Sprint(he.Message)}
			if he.Code == http.StatusNotFound {
				re.Code, re.Message = http.StatusNotFound, "HTTP 404 Not Found"
			}
		default:
			re = &Error{Code: 50001, Message: err.Error()}
		}
		if !c.Response().Committed {
			_ = reply(c, re.Status(), re)
		}
	}
	if o.creds != nil {
		e.Use(authenticate(o.creds))
	}
	a := &api{store: store}
	e.GET("/", func(c echo.Context) error { return reply(c, http.StatusOK, struct{}{}) })
	e.GET("/schemas/types", func(c echo.Context) error {
		return reply(c, http.StatusOK, []string{TypeJSON, TypeProtobuf, TypeAvro})
	})
	e.GET("/schemas/ids/:id", a.schemaByID)
	e.GET("/schemas/ids/:id/schema", a.schemaByID)
	e.GET("/schemas/ids/:id/versions", a.idVersions)
	e.GET("/schemas/ids/:id/subjects", a.idVersions)
	e.GET("/subjects", a.subjects)
	e.POST("/subjects/:subject", a.lookup)
	e.DELETE("/subjects/:subject", a.deleteSubject)
	e.GET("/subjects/:subject/versions", a.versions)
	e.POST("/subjects/:subject/versions", a.register)
	e.GET("/subjects/:subject/versions/:version", a.version)
	e.GET("/subjects/:subject/versions/:version/schema", a.version)
	e.GET("/subjects/:subject/versions/:version/referencedby", a.referencedBy)
	e.DELETE("/subjects/:subject/versions/:version", a.deleteVersion)
	e.POST("/compatibility/subjects/:subject/versions/:version", a.compatibility)
	e.POST("/compatibility/subjects/:subject/versions", a.compatibility)
	for _, p := range []string{"/config", "/config/:subject"} {
		e.GET(p, a.getConfig)
		e.PUT(p, a.putConfig)
		e.DELETE(p, a.deleteConfig)
	}
	for _, p := range []string{"/mode", "/mode/:subject"} {
		e.GET(p, a.getMode)
		e.PUT(p, a.putMode)
	}
	return e
}

// Serve serves the registry on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener, store *Store, opts ...Option) error {
	srv := &http.Server{Handler: Handler(store, opts...), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("schema registry: serve: %w", err)
	}
	return nil
}

type api struct{ store *Store }

func reply(c echo.Context, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Blob(status, ContentType, b)
}

func flag(c echo.Context, name string) bool { return c.QueryParam(name) == "true" }

func subject(c echo.Context) string { return c.Param("subject") }

func bind(c echo.Context, into any) error {
	if err := json.NewDecoder(c.Request().Body).Decode(into); err != nil {
		return &Error{Code: CodeUnprocessableEntityInput, Message: "Unrecognized request body: " + err.Error()}
	}
	return nil
}

func (a *api) id(c echo.Context) (int, error) {
	id, err := strconv.Atoi(c.Param("id"))
	if err != nil {
		return 0, errorf(CodeSchemaNotFound, "Schema %s not found", c.Param("id"))
	}
	return id, nil
}

func (a *api) schemaByID(c echo.Context) error {
	id, err := a.id(c)
	if err != nil {
		return err
	}
	sv, err := a.store.SchemaByID(id)
	if err != nil {
		return err
	}
	if strings.HasSuffix(c.Path(), "/schema") {
		return c.Blob(http.StatusOK, ContentType, []byte(sv.Schema))
	}
	return reply(c, http.StatusOK, struct {
		Schema     string      `json:"schema"`
		SchemaType string      `json:"schemaType,omitempty"`
		References []Reference `json:"references,omitempty"`
	}{sv.Schema, sv.SchemaType, sv.References})
}

func (a *api) idVersions(c echo.Context) error {
	id, err := a.id(c)
	if err != nil {
		return err
	}
	vs, err := a.store.IDVersions(id, flag(c, "deleted"))
	if err != nil {
		return err
	}
	if strings.HasSuffix(c.Path(), "/subjects") {
		subjects := []string{}
		for _, v := range vs {
			if len(subjects) == 0 || subjects[len(subjects)-1] != v.Subject {
				subjects = append(subjects, v.Subject)
			}
		}
		return reply(c, http.StatusOK, subjects)
	}
	type sv struct {
		Subject string `json:"subject"`
		Version int    `json:"version"`
	}
	out := []sv{}
	for _, v := range vs {
		out = append(out, sv{v.Subject, v.Version})
	}
	return reply(c, http.StatusOK, out)
}

func (a *api) subjects(c echo.Context) error {
	return reply(c, http.StatusOK, a.store.Subjects(c.QueryParam("subjectPrefix"), flag(c, "deleted")))
}

func (a *api) versions(c echo.Context) error {
	vs, err := a.store.Versions(subject(c), flag(c, "deleted"))
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, vs)
}

func (a *api) version(c echo.Context) error {
	sv, err := a.store.Version(subject(c), c.Param("version"), flag(c, "deleted"))
	if err != nil {
		return err
	}
	if strings.HasSuffix(c.Path(), "/schema") {
		return c.Blob(http.StatusOK, ContentType, []byte(sv.Schema))
	}
	return reply(c, http.StatusOK, sv)
}

func (a *api) referencedBy(c echo.Context) error {
	ids, err := a.store.ReferencedBy(subject(c), c.Param("version"))
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, ids)
}

func (a *api) register(c echo.Context) error {
	var s Schema
	if err := bind(c, &s); err != nil {
		return err
	}
	id, err := a.store.Register(c.Request().Context(), subject(c), s)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, map[string]int{"id": id})
}

func (a *api) lookup(c echo.Context) error {
	var s Schema
	if err := bind(c, &s); err != nil {
		return err
	}
	sv, err := a.store.Lookup(subject(c), s, flag(c, "deleted"))
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, sv)
}

func (a *api) deleteSubject(c echo.Context) error {
	vs, err := a.store.DeleteSubject(c.Request().Context(), subject(c), flag(c, "permanent"))
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, vs)
}

func (a *api) deleteVersion(c echo.Context) error {
	v, err := a.store.DeleteVersion(c.Request().Context(), subject(c), c.Param("version"), flag(c, "permanent"))
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, v)
}

func (a *api) compatibility(c echo.Context) error {
	var s Schema
	if err := bind(c, &s); err != nil {
		return err
	}
	msgs, err := a.store.CheckCompatibility(subject(c), c.Param("version"), s)
	if err != nil {
		return err
	}
	out := map[string]any{"is_compatible": len(msgs) == 0}
	if flag(c, "verbose") {
		if msgs == nil {
			msgs = []string{}
		}
		out["messages"] = msgs
	}
	return reply(c, http.StatusOK, out)
}

func (a *api) getConfig(c echo.Context) error {
	l, err := a.store.Config(subject(c), flag(c, "defaultToGlobal"))
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, map[string]string{"compatibilityLevel": l})
}

func (a *api) putConfig(c echo.Context) error {
	var body struct {
		Compatibility string `json:"compatibility"`
	}
	if err := bind(c, &body); err != nil {
		return err
	}
	level := strings.ToUpper(body.Compatibility)
	if err := a.store.SetConfig(c.Request().Context(), subject(c), level); err != nil {
		return err
	}
	return reply(c, http.StatusOK, map[string]string{"compatibility": level})
}

func (a *api) deleteConfig(c echo.Context) error {
	l, err := a.store.DeleteConfig(c.Request().Context(), subject(c))
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, map[string]string{"compatibilityLevel": l})
}

func (a *api) getMode(c echo.Context) error {
	m, err := a.store.Mode(subject(c), flag(c, "defaultToGlobal"))
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, map[string]string{"mode": m})
}

func (a *api) putMode(c echo.Context) error {
	var body struct {
		Mode string `json:"mode"`
	}
	if err := bind(c, &body); err != nil {
		return err
	}
	mode := strings.ToUpper(body.Mode)
	if err := a.store.SetMode(c.Request().Context(), subject(c), mode, flag(c, "force")); err != nil {
		return err
	}
	return reply(c, http.StatusOK, map[string]string{"mode": mode})
}

// Run opens the store on the brokers at seeds (retrying until they answer)
// and serves the registry on ln until ctx ends.
func Run(ctx context.Context, ln net.Listener, seeds []string, log *slog.Logger, opts ...Option) error {
	defer ln.Close()
	var o options
	for _, f := range opts {
		f(&o)
	}
	var store *Store
	for {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := Open(octx, seeds, DefaultTopic, log, o.clientOpts...)
		cancel()
		if err == nil {
			store = s
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("schema registry: waiting for the broker", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	defer store.Close()
	log.Info("schema registry listening", "addr", ln.Addr().String(), "topic", DefaultTopic)
	return Serve(ctx, ln, store, opts...)
}
