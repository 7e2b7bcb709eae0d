package transforms

import (
	"errors"
	"fmt"
	"strings"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// TransformFactory returns a new, unconfigured transformation for a class
// name or alias from `transforms.<alias>.type`. The worker passes one backed
// by the plugin registry, so this package does not depend on it.
type TransformFactory func(className string) (connect.Transformation, error)

// PredicateFactory returns a new, unconfigured predicate for a class name or
// alias from `predicates.<alias>.type`.
type PredicateFactory func(className string) (connect.Predicate, error)

// The per-alias keys the chain itself reads, as in Kafka Connect.
const (
	transformsKey = "transforms"
	predicatesKey = "predicates"
	typeKey       = "type"
	predicateKey  = "predicate"
	negateKey     = "negate"
)

// Chain is a connector's transformation chain: the transforms named by its
// `transforms` property, in order, each optionally guarded by a predicate.
// A Chain belongs to one task and is not safe for concurrent use.
type Chain struct {
	stages     []stage
	predicates []connect.Predicate // owned, closed by Close
}

type stage struct {
	alias, class string
	t            connect.Transformation
	owned        ownedApplier // t, when it takes part in the ownership protocol
	pred         connect.Predicate
	negate       bool
}

// StageError is an error of one transform in a chain, naming its alias and
// class; Err is usually a *RecordError.
type StageError struct {
	Alias string
	Class string
	Err   error
}

// Error says which transform failed and why.
func (e *StageError) Error() string {
	return fmt.Sprintf("transform %q (%s): %v", e.Alias, e.Class, e.Err)
}

// Unwrap returns the transform's error.
func (e *StageError) Unwrap() error { return e.Err }

// chainSpec is the parsed chain wiring, before any plugin is made.
type chainSpec struct {
	transforms []string
	predicates []string
}

func parseAliases(props map[string]string, key string) ([]string, []string) {
	raw, ok := props[key]
	if !ok {
		return nil, nil
	}
	v, _ := config.ParseValue(config.List, raw)
	var out, dups []string
	seen := map[string]bool{}
	for _, a := range v.([]string) {
		if seen[a] {
			dups = append(dups, a)
			continue
		}
		seen[a] = true
		out = append(out, a)
	}
	return out, dups
}

// subProps returns the properties under prefix with the prefix removed,
// leaving out the chain's own keys (type is kept: Kafka Connect passes it).
func subProps(props map[string]string, prefix string, drop ...string) map[string]string {
	out := config.WithPrefix(props, prefix)
	for _, k := range drop {
		delete(out, k)
	}
	return out
}

// NewChain builds and configures the chain a connector's properties
// describe:
//
//	transforms=unwrap,route
//	transforms.unwrap.type=io.debezium.transforms.ExtractNewRecordState
//	transforms.route.type=RegexRouter
//	transforms.route.regex=...
//	transforms.route.predicate=isOrders
//	transforms.route.negate=false
//	predicates=isOrders
//	predicates.isOrders.type=org.apache.kafka.connect.transforms.predicates.TopicNameMatches
//	predicates.isOrders.pattern=orders.*
//
// Each transform receives its `transforms.<alias>.` properties without the
// prefix (and without predicate and negate). Every problem is reported, each
// naming its key. Properties without a `transforms` key give an empty chain.
func NewChain(props map[string]string, newTransform TransformFactory, newPredicate PredicateFactory) (*Chain, error) {
	c := &Chain{}
	var problems []string
	add := func(key, format string, args ...any) {
		problems = append(problems, key+": "+fmt.Sprintf(format, args...))
	}
	aliases, dups := parseAliases(props, transformsKey)
	for _, d := range dups {
		add(transformsKey, "duplicate alias %q", d)
	}
	predAliases, pdups := parseAliases(props, predicatesKey)
	for _, d := range pdups {
		add(predicatesKey, "duplicate alias %q", d)
	}
	preds := map[string]connect.Predicate{}
	for _, p := range predAliases {
		prefix := predicatesKey + "." + p + "."
		class := strings.TrimSpace(props[prefix+typeKey])
		if class == "" {
			add(prefix+typeKey, "%v", config.MissingError(prefix+typeKey))
			continue
		}
		if newPredicate == nil {
			add(prefix+typeKey, "predicates are not supported here")
			continue
		}
		pr, err := newPredicate(class)
		if err != nil {
			add(prefix+typeKey, "%v", err)
			continue
		}
		if err := pr.Configure(subProps(props, prefix)); err != nil {
			add(prefix+typeKey, "predicate %s: %v", class, err)
			continue
		}
		preds[p] = pr
		c.predicates = append(c.predicates, pr)
	}
	declared := setOf(predAliases)
	for _, a := range aliases {
		prefix := transformsKey + "." + a + "."
		class := strings.TrimSpace(props[prefix+typeKey])
		if class == "" {
			add(prefix+typeKey, "%v", config.MissingError(prefix+typeKey))
			continue
		}
		st := stage{alias: a, class: class}
		if pa, ok := props[prefix+predicateKey]; ok && strings.TrimSpace(pa) != "" {
			pa = strings.TrimSpace(pa)
			if !declared[pa] {
				add(prefix+predicateKey, "predicate %q is not listed in %q", pa, predicatesKey)
			} else if pr := preds[pa]; pr != nil {
				st.pred = pr
			}
		}
		if raw, ok := props[prefix+negateKey]; ok {
			v, err := config.ParseValue(config.Boolean, raw)
			if err != nil {
				add(prefix+negateKey, "%v", config.InvalidError(prefix+negateKey, raw, err.Error()))
			} else {
				st.negate = v.(bool)
				if st.negate && strings.TrimSpace(props[prefix+predicateKey]) == "" {
					add(prefix+negateKey, "negate is set but %s%s is not", prefix, predicateKey)
				}
			}
		}
		t, err := newTransform(class)
		if err != nil {
			add(prefix+typeKey, "%v", err)
			continue
		}
		if err := t.Configure(subProps(props, prefix, predicateKey, negateKey)); err != nil {
			add(prefix+typeKey, "transform %q: %v", a, err)
			_ = t.Close()
			continue
		}
		st.t = t
		st.owned, _ = t.(ownedApplier)
		c.stages = append(c.stages, st)
	}
	if len(problems) > 0 {
		_ = c.Close()
		return nil, fmt.Errorf("invalid transformation chain: %s", strings.Join(problems, "; "))
	}
	return c, nil
}

// Len returns the number of transforms in the chain.
func (c *Chain) Len() int { return len(c.stages) }

// Aliases returns the transforms' aliases in order.
func (c *Chain) Aliases() []string {
	out := make([]string, len(c.stages))
	for i, s := range c.stages {
		out[i] = s.alias
	}
	return out
}

// Apply runs rec through every transform whose predicate (negated when
// configured) holds, in order. It returns nil when a transform dropped the
// record. An error is a *StageError naming the transform's alias; a
// transform that panics is reported as an error too, never passed on.
//
// rec itself is never changed. The records and schemaless maps that one
// stage makes are changed in place by the next stages instead of being
// copied again, which is what makes a long chain cheap.
func (c *Chain) Apply(rec *connect.Record) (out *connect.Record, err error) {
	i := 0
	defer func() {
		if r := recover(); r != nil {
			s := c.stages[i]
			out, err = nil, &StageError{Alias: s.alias, Class: s.class, Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	var own ownership // what the chain owns of rec: nothing of the caller's record
	for i = range c.stages {
		s := &c.stages[i]
		if s.pred != nil && s.pred.Test(rec) == s.negate {
			continue
		}
		var next *connect.Record
		if s.owned != nil {
			next, own, err = s.owned.applyOwned(rec, own)
		} else {
			next, err = s.t.Apply(rec)
			if next != rec {
				own = 0 // a plugin outside the protocol may keep what it returns
			}
		}
		if err != nil {
			return nil, &StageError{Alias: s.alias, Class: s.class, Err: err}
		}
		if next == nil {
			return nil, nil
		}
		rec = next
	}
	return rec, nil
}

// Close closes every transform and predicate, returning the first error.
func (c *Chain) Close() error {
	var errs []error
	for _, s := range c.stages {
		if err := s.t.Close(); err != nil {
			errs = append(errs, fmt.Errorf("transform %q: %w", s.alias, err))
		}
	}
	for _, p := range c.predicates {
		if err := p.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	c.stages, c.predicates = nil, nil
	return errors.Join(errs...)
}

// ValidateChain checks a connector's transforms and predicates properties
// without keeping any plugin, for PUT /connector-plugins/{c}/config/validate.
// It returns the definitions and values of every `transforms.<alias>.*` and
// `predicates.<alias>.*` key, grouped "Transforms: <alias>" and
// "Predicates: <alias>" as Kafka Connect does, each key's own checks plus the
// plugin's cross-key checks (connect.ConfigValidator). Problems with the
// `transforms` or `predicates` lists themselves (a duplicate alias, a
// predicate reference to an undeclared alias) are reported on the offending
// alias's keys, so merging the result into the connector's own Infos with
// Infos.Add loses nothing.
func ValidateChain(props map[string]string, newTransform TransformFactory, newPredicate PredicateFactory) config.Infos {
	out := config.Infos{Groups: []string{}, Configs: []config.ConfigInfo{}}
	aliases, dups := parseAliases(props, transformsKey)
	predAliases, pdups := parseAliases(props, predicatesKey)
	declared := setOf(predAliases)
	for _, a := range aliases {
		prefix := transformsKey + "." + a + "."
		group := "Transforms: " + a
		chainKeys := config.NewDef(
			config.Key{Name: typeKey, Type: config.Class, Required: true, Importance: config.High, Group: group,
				Doc: "Class for the '" + a + "' transformation."},
			config.Key{Name: predicateKey, Type: config.String, Importance: config.Medium, Group: group, OrderInGroup: 1,
				Doc: "The alias of a predicate used to determine whether to apply this transformation."},
			config.Key{Name: negateKey, Type: config.Boolean, Default: false, Importance: config.Medium, Group: group, OrderInGroup: 2,
				Doc: "Whether the configured predicate should be negated."},
		)
		sub := subProps(props, prefix)
		infos := chainKeys.Validate("", sub)
		if contains(dups, a) {
			infos.AddError(typeKey, fmt.Sprintf("Duplicate alias provided: %s is listed more than once in %s", a, transformsKey))
		}
		if pa := strings.TrimSpace(sub[predicateKey]); pa != "" && !declared[pa] {
			infos.AddError(predicateKey, config.InvalidError(prefix+predicateKey, pa, "predicate is not listed in "+predicatesKey).Error())
		}
		if neg, _ := config.ParseValue(config.Boolean, sub[negateKey]); neg == true && strings.TrimSpace(sub[predicateKey]) == "" {
			infos.AddError(negateKey, "negate is set but "+prefix+predicateKey+" is not")
		}
		if class := strings.TrimSpace(sub[typeKey]); class != "" {
			if t, err := newTransform(class); err != nil {
				infos.AddError(typeKey, config.InvalidError(prefix+typeKey, class, err.Error()).Error())
			} else {
				validatePlugin(t, subProps(props, prefix, predicateKey, negateKey), group, &infos)
				_ = t.Close()
			}
		}
		addPrefixed(&out, infos, prefix)
	}
	for _, p := range predAliases {
		prefix := predicatesKey + "." + p + "."
		group := "Predicates: " + p
		chainKeys := config.NewDef(config.Key{Name: typeKey, Type: config.Class, Required: true, Importance: config.High, Group: group,
			Doc: "Class for the '" + p + "' predicate."})
		sub := subProps(props, prefix)
		infos := chainKeys.Validate("", sub)
		if contains(pdups, p) {
			infos.AddError(typeKey, fmt.Sprintf("Duplicate alias provided: %s is listed more than once in %s", p, predicatesKey))
		}
		if class := strings.TrimSpace(sub[typeKey]); class != "" {
			switch pr, err := newPredicateOrErr(newPredicate, class); {
			case err != nil:
				infos.AddError(typeKey, config.InvalidError(prefix+typeKey, class, err.Error()).Error())
			default:
				validatePlugin(pr, sub, group, &infos)
				_ = pr.Close()
			}
		}
		addPrefixed(&out, infos, prefix)
	}
	return out
}

func newPredicateOrErr(f PredicateFactory, class string) (connect.Predicate, error) {
	if f == nil {
		return nil, errors.New("predicates are not supported here")
	}
	return f(class)
}

// validatePlugin adds the plugin's own keys, validated, to infos, in group.
func validatePlugin(p interface {
	connect.Configurable
}, props map[string]string, group string, infos *config.Infos) {
	def := p.Config()
	var keys []config.Key
	for i, k := range def.Keys() {
		k.Group, k.OrderInGroup = group, 3+i
		keys = append(keys, k)
	}
	own := config.NewDef(keys...).Validate("", props)
	if cv, ok := p.(connect.ConfigValidator); ok {
		cv.ValidateConfig(props, &own)
	}
	infos.Add(own)
	// Add skips keys infos already has (type, predicate, negate); keep the
	// errors the plugin found on them.
	for _, c := range own.Configs {
		if c.Definition.Name == typeKey || c.Definition.Name == predicateKey || c.Definition.Name == negateKey {
			for _, e := range c.Value.Errors {
				infos.AddError(c.Definition.Name, e)
			}
		}
	}
}

// addPrefixed appends infos to out with every key name prefixed.
func addPrefixed(out *config.Infos, infos config.Infos, prefix string) {
	for _, c := range infos.Configs {
		c.Definition.Name = prefix + c.Definition.Name
		c.Definition.DisplayName = prefix + c.Definition.DisplayName
		c.Value.Name = prefix + c.Value.Name
		deps := make([]string, len(c.Definition.Dependents))
		for i, d := range c.Definition.Dependents {
			deps[i] = prefix + d
		}
		c.Definition.Dependents = deps
		out.Configs = append(out.Configs, c)
		out.ErrorCount += len(c.Value.Errors)
	}
	for _, g := range infos.Groups {
		if !contains(out.Groups, g) {
			out.Groups = append(out.Groups, g)
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// ProblemsByKey returns the errors of infos by key name, e.g.
// {"transforms.route.regex": ["Invalid value ( for configuration ..."]}:
// a compact view of ValidateChain's result.
func ProblemsByKey(infos config.Infos) map[string][]string {
	out := map[string][]string{}
	for _, c := range infos.Configs {
		if len(c.Value.Errors) > 0 {
			out[c.Definition.Name] = append(out[c.Definition.Name], c.Value.Errors...)
		}
	}
	return out
}
