package worker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/internal/clientconfig"
)

// Client role prefixes, Kafka Connect's: the worker's own clients read the
// plain keys; source producers, sink consumers and admin clients read
// producer., consumer. and admin. keys first, and a connector's
// <role>override. keys before those.
const (
	rolePlain    = ""
	roleProducer = "producer."
	roleConsumer = "consumer."
	roleAdmin    = "admin."
)

// connectorClientDef declares a connector's client overrides so their
// secrets are masked in REST answers.
var connectorClientDef = func() *config.Def {
	var keys []config.Key
	for _, r := range []string{roleProducer, roleConsumer, roleAdmin} {
		keys = append(keys, clientconfig.Declare(r+"override.", "Client overrides", "")...)
	}
	return config.NewDef(keys...)
}()

func init() {
	ConfigDef = ConfigDef.With(clientconfig.Declare(rolePlain, "Security",
		" Also read as producer.<key>, consumer.<key> and admin.<key> for those clients, and per connector as <role>.override.<key>.")...)
}

// clientSecurity returns the franz-go options that make a client of role
// reach the brokers as configured, connector overrides (connProps, may be
// nil) first, then the worker's role and plain keys, resolved through the
// config providers.
func (h *Herder) clientSecurity(role string, connProps map[string]string) ([]kgo.Opt, error) {
	wp, err := h.providers.resolve(h.cfg.Props)
	if err != nil {
		return nil, err
	}
	prefixes := []string{rolePlain}
	if role != rolePlain {
		prefixes = []string{role, rolePlain}
	}
	get := clientconfig.Layers(wp, prefixes...)
	if role != rolePlain && connProps != nil {
		over, worker := clientconfig.Layers(connProps, role+"override."), get
		get = func(key string) (string, bool) {
			if v, ok := over(key); ok {
				return v, true
			}
			return worker(key)
		}
	}
	opts, err := clientconfig.Opts(get)
	if err != nil {
		return nil, fmt.Errorf("worker %sclient security: %w", role, err)
	}
	return opts, nil
}

// roleOpts returns the options of a new client of role: the brokers, the
// options given to New, and the role's security.
func (h *Herder) roleOpts(role string, connProps map[string]string) ([]kgo.Opt, error) {
	sec, err := h.clientSecurity(role, connProps)
	if err != nil {
		return nil, err
	}
	return append(append([]kgo.Opt(nil), h.baseOpts...), sec...), nil
}
