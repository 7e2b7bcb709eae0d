package sink

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/connectors/http/httpclient"
)

// Configuration keys, as Confluent's HTTP sink names them unless marked as a
// Penstock extension. Authentication, TLS, timeouts and retries are
// httpclient's keys.
const (
	URLConfig              = "http.api.url"
	MethodConfig           = "request.method"
	HeadersConfig          = "headers"
	HeaderSeparatorConfig  = "header.separator"
	SensitiveHeadersConfig = "sensitive.headers"
	BodyFormatConfig       = "request.body.format"

	BatchMaxSizeConfig     = "batch.max.size"
	BatchMaxBytesConfig    = "batch.max.bytes" // Penstock extension
	BatchLingerConfig      = "batch.linger.ms" // Penstock extension
	BatchPrefixConfig      = "batch.prefix"
	BatchSuffixConfig      = "batch.suffix"
	BatchSeparatorConfig   = "batch.separator"
	BatchJSONAsArrayConfig = "batch.json.as.array"

	NullValuesConfig  = "behavior.on.null.values"
	OnErrorConfig     = "behavior.on.error"
	MaxInFlightConfig = "max.in.flight.requests" // Penstock extension
	MaxBufferedConfig = "max.buffered.records"   // Penstock extension
)

// Values of the enumerated keys (matched ignoring case).
const (
	FormatString = "string"
	FormatJSON   = "json"
	FormatBytes  = "bytes"

	BehaviorIgnore = "ignore"
	BehaviorDelete = "delete"
	BehaviorLog    = "log"
	BehaviorFail   = "fail"
)

const (
	groupRequest = "Request"
	groupBatch   = "Batching"
	groupErrors  = "Errors"
)

// binding declares the sink's own keys and the settings field each fills.
var binding = config.Bind(
	config.StringField(config.Key{Name: URLConfig, Required: true, Importance: config.High, Group: groupRequest, OrderInGroup: 1,
		Validator: config.ValidatorFunc{Description: "a URL with ${topic}, ${partition}, ${offset}, ${key}, ${key.field}, ${value.field}", Check: func(v any) error {
			_, err := parseTemplate(v.(string), true)
			return err
		}},
		Doc: "The URL requests go to. It may hold templates filled from the first record of each batch: ${topic}, ${partition}, ${offset}, ${key}, and fields as ${key.id} or ${value.customer.id}; substituted values are escaped as URL path segments. Records whose URLs differ go in different requests."},
		func(s *settings) *string { return &s.rawURL }),
	config.StringField(config.Key{Name: MethodConfig, Default: http.MethodPost, Importance: config.High, Group: groupRequest, OrderInGroup: 2,
		Validator: config.OneOf(http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete),
		Doc:       "POST, PUT, PATCH or DELETE."},
		func(s *settings) *string { return &s.method }),
	config.StringField(config.Key{Name: HeadersConfig, Default: "", Importance: config.High, Group: groupRequest, OrderInGroup: 3,
		Doc: "Headers sent with every request, Name:value pairs separated by header.separator, e.g. Content-Type:application/json|X-Source:${topic}. Values may hold the templates of http.api.url; records whose headers differ go in different requests. Keep credentials in sensitive.headers or auth.type: this key is not masked."},
		func(s *settings) *string { return &s.rawHeaders }),
	config.PasswordField(config.Key{Name: SensitiveHeadersConfig, Importance: config.Medium, Group: groupRequest, OrderInGroup: 3,
		Doc: "Headers like those of headers, masked in the REST API and logs: the place for credentials such as Authorization:Bearer ... or X-Api-Key:..."},
		func(s *settings) *config.Secret { return &s.sensitive }),
	config.StringField(config.Key{Name: HeaderSeparatorConfig, Default: "|", Importance: config.Low, Group: groupRequest, OrderInGroup: 4,
		Validator: config.NonEmpty(), Doc: "The separator between the headers of the headers key."},
		func(s *settings) *string { return &s.headerSep }),
	config.StringField(config.Key{Name: BodyFormatConfig, Default: FormatString, Importance: config.High, Group: groupRequest, OrderInGroup: 5,
		Validator: config.OneOf(FormatString, FormatJSON, FormatBytes),
		Doc:       "string: the value as text (structured values as JSON); json: the value as JSON (a string or bytes value that is JSON text is sent as is, other text becomes a JSON string); bytes (Penstock extension): the value's bytes as they are. The default Content-Type follows (text/plain, application/json, application/octet-stream) unless headers set one."},
		func(s *settings) *string { return &s.format }),
	config.IntField(config.Key{Name: BatchMaxSizeConfig, Default: 1, Importance: config.High, Group: groupBatch, OrderInGroup: 1,
		Validator: config.Between(1, 1000000), Doc: "The most records in one request. Records of one partition, for one URL and the same headers, share a request."},
		func(s *settings) *int { return &s.maxSize }),
	config.LongField(config.Key{Name: BatchMaxBytesConfig, Default: int64(5 << 20), Importance: config.Medium, Group: groupBatch, OrderInGroup: 2,
		Validator: config.AtLeast(1), Doc: "Penstock extension. The largest request body in bytes: a batch is cut before a record that would make it larger (a single larger record goes alone)."},
		func(s *settings) *int64 { return &s.rawMaxBytes }),
	config.DurationField(config.Key{Name: BatchLingerConfig, Default: int64(0), Importance: config.Medium, Group: groupBatch, OrderInGroup: 3,
		Validator: config.Between(0, 600000), Doc: "Penstock extension. How long a batch that is not full waits for more records, in milliseconds. 0 sends what is there (more gathers while a request is in flight)."},
		func(s *settings) *time.Duration { return &s.linger }),
	config.StringField(config.Key{Name: BatchPrefixConfig, Default: "", Importance: config.Medium, Group: groupBatch, OrderInGroup: 4,
		Doc: "Written before the records of a request."},
		func(s *settings) *string { return &s.rawPrefix }),
	config.StringField(config.Key{Name: BatchSuffixConfig, Default: "", Importance: config.Medium, Group: groupBatch, OrderInGroup: 5,
		Doc: "Written after the records of a request."},
		func(s *settings) *string { return &s.rawSuffix }),
	config.StringField(config.Key{Name: BatchSeparatorConfig, Default: ",", Importance: config.Medium, Group: groupBatch, OrderInGroup: 6,
		Doc: "Written between the records of a request; \\n gives NDJSON (the JSON form of the config can hold a newline; the two characters \\n are read as one too)."},
		func(s *settings) *string { return &s.rawSeparator }),
	config.BoolField(config.Key{Name: BatchJSONAsArrayConfig, Default: false, Importance: config.Medium, Group: groupBatch, OrderInGroup: 7,
		Doc: "true: each request's body is a JSON array of the records (prefix [, suffix ], separator , whatever batch.prefix, batch.suffix and batch.separator say). Needs request.body.format=json."},
		func(s *settings) *bool { return &s.jsonArray }),
	config.StringField(config.Key{Name: NullValuesConfig, Default: BehaviorIgnore, Importance: config.Low, Group: groupErrors, OrderInGroup: 1,
		Validator: config.OneOf(BehaviorIgnore, BehaviorDelete, BehaviorLog, BehaviorFail),
		Doc:       "A record with a null value (a tombstone): ignore skips it; log logs its coordinates and key and skips it; delete sends a DELETE request, alone, to http.api.url with the key substituted for ${key} (or appended as a last path segment when the URL has no ${key}); fail reports it as behavior.on.error says."},
		func(s *settings) *string { return &s.nullValues }),
	config.StringField(config.Key{Name: OnErrorConfig, Default: BehaviorFail, Importance: config.Medium, Group: groupErrors, OrderInGroup: 2,
		Validator: config.OneOf(BehaviorFail, BehaviorLog, BehaviorIgnore),
		Doc:       "A record the API refused (a 4xx status not in retry.on.status.codes), or that cannot become a request: fail routes it by errors.tolerance (to the dead letter queue with the status and answer in the error headers, or failing the task naming the record); log logs and skips it; ignore skips it. Requests whose retries ran out fail the task whatever this says: the API, not the record, is at fault."},
		func(s *settings) *string { return &s.onError }),
	config.IntField(config.Key{Name: MaxInFlightConfig, Default: 5, Importance: config.Medium, Group: groupErrors, OrderInGroup: 3,
		Validator: config.Between(1, 1000), Doc: "Penstock extension. The most requests in flight at once, of different partitions: the records of one partition go one request after the other, in order."},
		func(s *settings) *int { return &s.inFlight }),
	config.IntField(config.Key{Name: MaxBufferedConfig, Default: 2000, Importance: config.Low, Group: groupErrors, OrderInGroup: 4,
		Validator: config.AtLeast(1), Doc: "Penstock extension. The most records waiting for their request, per partition (at least batch.max.size); Put waits when it is reached. Each waiting record is held as a copy of about 200 bytes besides its value: 2,000 keep a partition's next requests ready without holding a large part of the worker's memory."},
		func(s *settings) *int { return &s.buffered }),
)

// ConfigDef returns the definition of every key the sink accepts.
func ConfigDef() *config.Def {
	return config.NewDef(append(httpclient.Keys(), reporterKeys()...)...).With(binding.Def().Keys()...)
}

// settings are the parsed configuration of a task.
type settings struct {
	client *httpclient.Settings

	url        *template
	method     string
	headers    []header
	templated  []header    // the headers whose values depend on the record
	bareHeader http.Header // the static headers (shared by every request)
	bodyHeader http.Header // bareHeader with the body's Content-Type
	static     *target     // the target of every record with a value, when the URL and headers have no template
	format     string
	maxSize    int
	maxBytes   int
	linger     time.Duration
	prefix     []byte
	suffix     []byte
	separator  []byte
	nullValues string
	onError    string
	inFlight   int
	buffered   int
	reporting  reporting

	// The keys as parsed, read into the fields above by parseSettings.
	rawURL, rawHeaders, headerSep      string
	rawPrefix, rawSuffix, rawSeparator string
	sensitive                          config.Secret
	rawMaxBytes                        int64
	jsonArray                          bool
}

// header is one header of the headers key, its value a template.
type header struct {
	name  string
	value *template
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
	s := &settings{client: cs, reporting: parseReporting(v)}
	binding.Set(v, s)
	s.maxBytes = int(s.rawMaxBytes)
	s.buffered = max(s.buffered, s.maxSize) // room for a full batch
	s.prefix, s.suffix = []byte(unescape(s.rawPrefix)), []byte(unescape(s.rawSuffix))
	s.separator = []byte(unescape(s.rawSeparator))
	if s.url, err = parseTemplate(s.rawURL, true); err != nil {
		return nil, fmt.Errorf("Invalid value %s for configuration %s: %w", s.rawURL, URLConfig, err)
	}
	if lu := strings.ToLower(s.url.literalPrefix()); !strings.HasPrefix(lu, "http://") && !strings.HasPrefix(lu, "https://") {
		return nil, fmt.Errorf("Invalid value %s for configuration %s: the URL must start with http:// or https://", s.rawURL, URLConfig)
	}
	if s.headers, err = parseHeaders(s.rawHeaders, s.headerSep); err != nil {
		return nil, fmt.Errorf("Invalid value %s for configuration %s: %w", s.rawHeaders, HeadersConfig, err)
	}
	sensitive, err := parseHeaders(s.sensitive.Value(), s.headerSep)
	if err != nil {
		return nil, fmt.Errorf("Invalid value %s for configuration %s: a header is not Name:value", config.HiddenValue, SensitiveHeadersConfig)
	}
	s.headers = append(s.headers, sensitive...)
	s.prepareHeaders()
	if s.jsonArray {
		if s.format != FormatJSON {
			return nil, fmt.Errorf("Invalid value true for configuration %s: it needs %s=json", BatchJSONAsArrayConfig, BodyFormatConfig)
		}
		s.prefix, s.suffix, s.separator = []byte("["), []byte("]"), []byte(",")
	}
	return s, nil
}

// unescape reads \n, \r and \t written as two characters, as a properties
// file would have given them.
func unescape(s string) string {
	return strings.NewReplacer(`\n`, "\n", `\r`, "\r", `\t`, "\t").Replace(s)
}

func parseHeaders(raw, sep string) ([]header, error) {
	hs, err := httpclient.ParseHeaders(raw, sep)
	if err != nil {
		return nil, err
	}
	out := make([]header, len(hs))
	for i, h := range hs {
		t, err := parseTemplate(h.Value, false)
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", h.Name, err)
		}
		out[i] = header{name: http.CanonicalHeaderKey(h.Name), value: t}
	}
	return out, nil
}
