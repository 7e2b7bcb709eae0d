package poll

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/connectors/http/httpclient"
	"github.com/penstockhq/penstock/connectors/http/jsonpointer"
)

// Configuration keys, as Confluent's HTTP source names them unless marked
// as a Penstock extension. Authentication, TLS, timeouts and retries are
// httpclient's keys.
const (
	URLConfig          = "url"
	MethodConfig       = "http.request.method"
	HeadersConfig      = "http.request.headers"
	ParametersConfig   = "http.request.parameters"
	BodyConfig         = "http.request.body"
	OffsetModeConfig   = "http.offset.mode"
	InitialOffset      = "http.initial.offset"
	DataPointerConfig  = "http.response.data.json.pointer"
	OffsetPointer      = "http.offset.json.pointer"
	NextPagePointer    = "http.next.page.json.pointer"
	IntervalConfig     = "request.interval.ms"
	PollIntervalConfig = "poll.interval.ms" // Penstock extension: the same as request.interval.ms
	TopicConfig        = "topic.name.pattern"
	KeyPointerConfig   = "key.json.pointer" // Penstock extension
)

// Offset modes.
const (
	ModeIncrementing = "SIMPLE_INCREMENTING"
	ModeChaining     = "CHAINING"
	ModeCursor       = "CURSOR_PAGINATION"
)

func pointerValidator(v any) error {
	_, err := jsonpointer.Parse(v.(string))
	return err
}

const groupRequest = "Request"

// pointer checks a key holding a JSON pointer.
var pointer = config.ValidatorFunc{Description: "a JSON pointer such as /data/items", Check: pointerValidator}

// binding declares the source's own keys and the settings field each fills.
var binding = config.Bind(
	config.StringField(config.Key{Name: URLConfig, Required: true, Importance: config.High, Group: groupRequest, OrderInGroup: 1,
		Doc: "The URL polled. ${offset} is replaced by the current position (query-escaped): the next number, the last record's field, or the cursor. With CURSOR_PAGINATION a next page that is a whole URL replaces it."},
		func(s *settings) *string { return &s.url }),
	config.StringField(config.Key{Name: MethodConfig, Default: http.MethodGet, Importance: config.High, Group: groupRequest, OrderInGroup: 2,
		Validator: config.OneOf(http.MethodGet, http.MethodPost), Doc: "GET or POST."},
		func(s *settings) *string { return &s.method }),
	config.StringField(config.Key{Name: HeadersConfig, Default: "", Importance: config.Medium, Group: groupRequest, OrderInGroup: 3,
		Doc: "Headers of each request, Name:value pairs separated by |."},
		func(s *settings) *string { return &s.rawHeaders }),
	config.StringField(config.Key{Name: ParametersConfig, Default: "", Importance: config.Medium, Group: groupRequest, OrderInGroup: 4,
		Doc: "name=value pairs separated by &, added to the query string (GET) or sent as a form body (POST without http.request.body). Values may hold ${offset}."},
		func(s *settings) *string { return &s.params }),
	config.StringField(config.Key{Name: BodyConfig, Default: "", Importance: config.Medium, Group: groupRequest, OrderInGroup: 5,
		Doc: "The body of a POST (sent as application/json), with ${offset} replaced."},
		func(s *settings) *string { return &s.body }),
	config.StringField(config.Key{Name: OffsetModeConfig, Default: ModeIncrementing, Importance: config.High, Group: groupRequest, OrderInGroup: 6,
		Validator: config.OneOf(ModeIncrementing, ModeChaining, ModeCursor),
		Doc:       "How the position moves. SIMPLE_INCREMENTING: ${offset} is a number, advanced by the number of records each answer held. CHAINING: ${offset} is http.offset.json.pointer's field of the last record taken (e.g. an id or a timestamp); leading records whose field equals it are taken to be those already taken, for APIs whose filter includes the offset (>=). CURSOR_PAGINATION: ${offset} is the cursor found at http.next.page.json.pointer in the last answer; when an answer has none, the same page is polled again and only records past those already taken are new."},
		func(s *settings) *string { return &s.mode }),
	config.StringField(config.Key{Name: InitialOffset, Default: "", Importance: config.Medium, Group: groupRequest, OrderInGroup: 7,
		Doc: "The position before any record was taken (0 for SIMPLE_INCREMENTING when empty)."},
		func(s *settings) *string { return &s.initial }),
	config.StringField(config.Key{Name: DataPointerConfig, Default: "", Importance: config.High, Group: groupRequest, OrderInGroup: 8,
		Validator: pointer, Doc: "A JSON pointer to the answer's records: an array, each element a record, or an object, one record. Empty: the whole answer."},
		func(s *settings) *string { return &s.rawData }),
	config.StringField(config.Key{Name: OffsetPointer, Default: "", Importance: config.Medium, Group: groupRequest, OrderInGroup: 9,
		Validator: pointer, Doc: "CHAINING: a JSON pointer into each record to the field that is its position, e.g. /id."},
		func(s *settings) *string { return &s.rawOffsetField }),
	config.StringField(config.Key{Name: NextPagePointer, Default: "", Importance: config.Medium, Group: groupRequest, OrderInGroup: 10,
		Validator: pointer, Doc: "CURSOR_PAGINATION: a JSON pointer into the answer to the next page's cursor or URL, e.g. /meta/next."},
		func(s *settings) *string { return &s.rawNext }),
	config.DurationField(config.Key{Name: IntervalConfig, Default: int64(30000), Importance: config.High, Group: groupRequest, OrderInGroup: 11,
		Validator: config.AtLeast(0), Doc: "How long to wait after an answer with no new record before asking again, in milliseconds. Pages with records are followed at once."},
		func(s *settings) *time.Duration { return &s.interval }),
	config.OnlyKey[settings](config.Key{Name: PollIntervalConfig, Type: config.Long, Importance: config.Low, Group: groupRequest, OrderInGroup: 12,
		Validator: config.AtLeast(0), Doc: "Penstock extension: request.interval.ms under another name; it wins when both are set."}),
	config.StringField(config.Key{Name: TopicConfig, Required: true, Validator: config.NonEmpty(), Importance: config.High, Group: groupRequest, OrderInGroup: 13,
		Doc: "The topic records are written to. Confluent's ${entityName} is not supported (there is one entity: the URL)."},
		func(s *settings) *string { return &s.topic }),
	config.StringField(config.Key{Name: KeyPointerConfig, Default: "", Importance: config.Medium, Group: groupRequest, OrderInGroup: 14,
		Validator: pointer, Doc: "Penstock extension. A JSON pointer into each record to the field that becomes its key, as text; none: null keys."},
		func(s *settings) *string { return &s.rawKey }),
)

// ConfigDef returns the definition of the polling source's keys.
func ConfigDef() *config.Def {
	return config.NewDef(httpclient.Keys()...).With(binding.Def().Keys()...)
}

// settings are the parsed configuration.
type settings struct {
	client *httpclient.Settings

	url, method, body, params string
	headers                   http.Header
	mode, initial             string
	data, offsetField, next   jsonpointer.Pointer
	key                       jsonpointer.Pointer
	interval                  time.Duration
	topic                     string

	// The keys as parsed, read into the fields above by parseSettings.
	rawHeaders, rawData, rawOffsetField, rawNext, rawKey string
}

func parseSettings(props map[string]string) (*settings, error) {
	v, err := ConfigDef().Parse(props)
	if err != nil {
		return nil, err
	}
	cs, err := httpclient.Parse(v)
	if err != nil {
		return nil, err
	}
	s := &settings{client: cs, headers: http.Header{}}
	binding.Set(v, s)
	if v.Get(PollIntervalConfig) != nil {
		s.interval = v.Duration(PollIntervalConfig)
	}
	if lu := strings.ToLower(s.url); !strings.HasPrefix(lu, "http://") && !strings.HasPrefix(lu, "https://") {
		return nil, fmt.Errorf("Invalid value %s for configuration %s: the URL must start with http:// or https://", s.url, URLConfig)
	}
	if strings.Contains(s.topic, "${") {
		return nil, fmt.Errorf("Invalid value %s for configuration %s: templates such as ${entityName} are not supported; name the topic", s.topic, TopicConfig)
	}
	s.data, _ = jsonpointer.Parse(s.rawData)
	s.offsetField, _ = jsonpointer.Parse(s.rawOffsetField)
	s.next, _ = jsonpointer.Parse(s.rawNext)
	s.key, _ = jsonpointer.Parse(s.rawKey)
	if s.rawKey == "" {
		s.key = nil
	}
	switch {
	case s.mode == ModeChaining && s.rawOffsetField == "":
		return nil, fmt.Errorf("Missing configuration %s, required with %s=%s", OffsetPointer, OffsetModeConfig, ModeChaining)
	case s.mode == ModeCursor && s.rawNext == "":
		return nil, fmt.Errorf("Missing configuration %s, required with %s=%s", NextPagePointer, OffsetModeConfig, ModeCursor)
	}
	if s.mode == ModeIncrementing && s.initial == "" {
		s.initial = "0"
	}
	hs, err := httpclient.ParseHeaders(s.rawHeaders, "|")
	if err != nil {
		return nil, fmt.Errorf("Invalid value %s for configuration %s: %w", s.rawHeaders, HeadersConfig, err)
	}
	for _, h := range hs {
		s.headers.Add(h.Name, h.Value)
	}
	return s, nil
}
