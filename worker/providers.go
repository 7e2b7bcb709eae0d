package worker

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/penstockhq/penstock/internal/properties"
)

// Config provider classes, Kafka's names; their simple names and the
// aliases "env" and "file" work too.
const (
	EnvVarProviderClass = "org.apache.kafka.common.config.provider.EnvVarConfigProvider"
	FileProviderClass   = "org.apache.kafka.common.config.provider.FileConfigProvider"
)

// providers resolves ${alias:[path:]key} references in connector configs,
// Kafka's ConfigProvider mechanism: configs are stored with the references
// and resolved only when a connector or task starts, so secrets stay out of
// the config topic and the REST API.
type providers struct {
	byAlias map[string]provider
}

type provider interface {
	get(path, key string) (string, error)
}

type envProvider struct{}

func (envProvider) get(path, key string) (string, error) {
	if path != "" {
		key = path // ${env:NAME} parses as key NAME; tolerate ${env:NAME:} forms
	}
	v, ok := os.LookupEnv(key)
	if !ok {
		return "", fmt.Errorf("environment variable %s is not set", key)
	}
	return v, nil
}

type fileProvider struct{}

func (fileProvider) get(path, key string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("file provider reference needs a path and a key: ${file:PATH:KEY}")
	}
	props, err := properties.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("file provider: %w", err)
	}
	v, ok := props[key]
	if !ok {
		return "", fmt.Errorf("file provider: %s has no key %s", path, key)
	}
	return v, nil
}

// newProviders builds the providers named by config.providers.
func newProviders(cfg *Config) (*providers, error) {
	p := &providers{byAlias: map[string]provider{}}
	for _, alias := range cfg.ConfigProviders {
		class := strings.TrimSpace(cfg.Props["config.providers."+alias+".class"])
		if class == "" {
			class = alias
		}
		switch class {
		case EnvVarProviderClass, "EnvVarConfigProvider", "env":
			p.byAlias[alias] = envProvider{}
		case FileProviderClass, "FileConfigProvider", "file":
			p.byAlias[alias] = fileProvider{}
		default:
			return nil, fmt.Errorf("worker config: config provider %s: unknown class %q (known: %s, %s)", alias, class, EnvVarProviderClass, FileProviderClass)
		}
	}
	return p, nil
}

var providerRef = regexp.MustCompile(`\$\{([^}]*?):(?:([^}]*?):)?([^}:]*?)\}`)

// resolve returns props with every ${alias:[path:]key} reference of a known
// provider replaced by its value. References to unknown aliases stay as they
// are, as in Kafka Connect. The error names the config key, never the value.
func (p *providers) resolve(props map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(props))
	for k, v := range props {
		if !strings.Contains(v, "${") {
			out[k] = v
			continue
		}
		var ferr error
		out[k] = providerRef.ReplaceAllStringFunc(v, func(ref string) string {
			m := providerRef.FindStringSubmatch(ref)
			prov, ok := p.byAlias[m[1]]
			if !ok {
				return ref
			}
			val, err := prov.get(m[2], m[3])
			if err != nil && ferr == nil {
				ferr = fmt.Errorf("config %s: %w", k, err)
			}
			return val
		})
		if ferr != nil {
			return nil, ferr
		}
	}
	return out, nil
}

// reverse puts provider references back into task configs: a task value
// equal to the resolved value of a connector key that held a reference gets
// the reference again, so task configs written to the config topic hold no
// resolved secrets (Kafka Connect's reverseTransform).
func reverseResolved(raw, resolved, task map[string]string) map[string]string {
	out := make(map[string]string, len(task))
	for k, v := range task {
		out[k] = v
		if r, ok := raw[k]; ok && strings.Contains(r, "${") && resolved[k] == v {
			out[k] = r
		}
	}
	return out
}
