package config

import "sort"

// Infos is the result of validating a configuration, in the JSON shape of
// Kafka Connect's ConfigInfos (the body of PUT .../config/validate).
type Infos struct {
	Name       string       `json:"name"`
	ErrorCount int          `json:"error_count"`
	Groups     []string     `json:"groups"`
	Configs    []ConfigInfo `json:"configs"`
}

// ConfigInfo is one key's definition and validated value.
type ConfigInfo struct {
	Definition KeyInfo   `json:"definition"`
	Value      ValueInfo `json:"value"`
}

// KeyInfo is Kafka Connect's ConfigKeyInfo: a key's definition as JSON.
type KeyInfo struct {
	Name          string   `json:"name"`
	Type          Type     `json:"type"`
	Required      bool     `json:"required"`
	DefaultValue  *string  `json:"default_value"`
	Importance    string   `json:"importance"`
	Documentation string   `json:"documentation"`
	Group         *string  `json:"group"`
	OrderInGroup  int      `json:"order"`
	Width         Width    `json:"width"`
	DisplayName   string   `json:"display_name"`
	Dependents    []string `json:"dependents"`
}

// ValueInfo is Kafka Connect's ConfigValueInfo: a key's value and its errors.
type ValueInfo struct {
	Name              string   `json:"name"`
	Value             *string  `json:"value"`
	RecommendedValues []string `json:"recommended_values"`
	Errors            []string `json:"errors"`
	Visible           bool     `json:"visible"`
}

// Info returns k's definition as JSON-ready KeyInfo.
func (k Key) Info() KeyInfo {
	ki := KeyInfo{Name: k.Name, Type: k.Type, Required: k.Required, Importance: string(k.Importance),
		Documentation: k.Doc, OrderInGroup: k.OrderInGroup, Width: k.Width, DisplayName: k.DisplayName,
		Dependents: k.Dependents}
	if ki.Dependents == nil {
		ki.Dependents = []string{}
	}
	if k.Group != "" {
		g := k.Group
		ki.Group = &g
	} else {
		ki.OrderInGroup = -1
	}
	if !k.Required {
		s := Render(k.Type, k.Default)
		ki.DefaultValue = &s
	}
	return ki
}

// Validate checks props against every key and returns one ConfigInfo per key
// in definition order, with the error messages and recommendations Kafka
// Connect's validate endpoint gives. Passwords are never echoed.
func (d *Def) Validate(name string, props map[string]string) Infos {
	parsed := make(map[string]any, len(d.keys))
	errs := make(map[string]string, len(d.keys))
	for _, k := range d.keys {
		v, err := k.parse(props)
		if err != nil {
			errs[k.Name] = err.Error()
			continue
		}
		parsed[k.Name] = v
	}
	infos := Infos{Name: name, Groups: []string{}, Configs: make([]ConfigInfo, 0, len(d.keys))}
	seen := map[string]bool{}
	for _, k := range d.keys {
		vi := ValueInfo{Name: k.Name, RecommendedValues: []string{}, Errors: []string{}, Visible: true}
		if raw, ok := props[k.Name]; ok {
			s := mask(k.Type, raw)
			vi.Value = &s
		} else if !k.Required {
			s := Render(k.Type, k.Default)
			vi.Value = &s
		}
		if e, bad := errs[k.Name]; bad {
			vi.Errors = append(vi.Errors, e)
		}
		if k.Recommender != nil {
			vi.Visible = k.Recommender.Visible(k.Name, parsed)
			for _, rv := range k.Recommender.ValidValues(k.Name, parsed) {
				vi.RecommendedValues = append(vi.RecommendedValues, Render(k.Type, rv))
			}
		}
		infos.ErrorCount += len(vi.Errors)
		infos.Configs = append(infos.Configs, ConfigInfo{Definition: k.Info(), Value: vi})
		if k.Group != "" && !seen[k.Group] {
			seen[k.Group] = true
			infos.Groups = append(infos.Groups, k.Group)
		}
	}
	return infos
}

// Add appends the configs of other to infos, adding up the error counts and
// groups; keys already present in infos are skipped. The worker uses it to
// join its own connector keys with the plugin's.
func (infos *Infos) Add(other Infos) {
	have := make(map[string]bool, len(infos.Configs))
	for _, c := range infos.Configs {
		have[c.Definition.Name] = true
	}
	groups := map[string]bool{}
	for _, g := range infos.Groups {
		groups[g] = true
	}
	for _, c := range other.Configs {
		if have[c.Definition.Name] {
			continue
		}
		infos.Configs = append(infos.Configs, c)
		infos.ErrorCount += len(c.Value.Errors)
	}
	for _, g := range other.Groups {
		if !groups[g] {
			infos.Groups = append(infos.Groups, g)
		}
	}
}

// AddError records a problem with one key, e.g. from a connector's own
// cross-key validation; a key the result does not list yet is added.
func (infos *Infos) AddError(key, msg string) {
	infos.ErrorCount++
	for i := range infos.Configs {
		if infos.Configs[i].Definition.Name == key {
			infos.Configs[i].Value.Errors = append(infos.Configs[i].Value.Errors, msg)
			return
		}
	}
	infos.Configs = append(infos.Configs, ConfigInfo{
		Definition: KeyInfo{Name: key, Type: String, Dependents: []string{}, OrderInGroup: -1, Width: WidthNone, DisplayName: key},
		Value:      ValueInfo{Name: key, RecommendedValues: []string{}, Errors: []string{msg}, Visible: true},
	})
}

// Problems returns "key: message" for every error, sorted, for the 400 body of
// an invalid create ("... contains the following N error(s): ...").
func (infos *Infos) Problems() []string {
	var out []string
	for _, c := range infos.Configs {
		for _, e := range c.Value.Errors {
			out = append(out, e)
		}
	}
	sort.Strings(out)
	return out
}
