// Package apply makes a Connect cluster's connectors match a set of
// connector definitions (package connfile), like `terraform apply`: it
// plans first (create, update with a per-key diff, unchanged, delete),
// validates every config it would write through the plugins' own
// validation, and changes nothing unless all are valid. `penstock
// connectors apply` runs it through the REST API (Remote); the workers'
// --connectors watcher (Watcher) runs it in process on the group's leader.
//
// It sits in internal/ beside the REST client, not in worker/: it is a
// client of the management API's contract (a subset of rest.Herder), so the
// runtime never imports it and cmd/ wires it to either side.
package apply

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/internal/connfile"
	"github.com/penstockhq/penstock/internal/restclient"
	"github.com/penstockhq/penstock/worker/rest"
)

// Cluster is what apply needs of a Connect cluster: a subset of
// rest.Herder, so a worker's herder serves it in process and Remote serves
// it over the REST API. Configs it returns have their secrets masked.
type Cluster interface {
	Connectors(ctx context.Context) ([]string, error)
	ConnectorConfig(ctx context.Context, name string) (map[string]string, error)
	ConnectorStatus(ctx context.Context, name string) (rest.ConnectorStateInfo, error)
	ValidateConfig(ctx context.Context, cfg map[string]string) (config.Infos, error)
	PutConnectorConfig(ctx context.Context, name string, cfg map[string]string, initialState string, allowReplace bool) (rest.ConnectorInfo, bool, error)
	PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (rest.ConnectorInfo, error)
	DeleteConnector(ctx context.Context, name string) error
	AlterOffsets(ctx context.Context, name string, offsets rest.ConnectorOffsets) (string, error)
	PauseConnector(ctx context.Context, name string) error
	ResumeConnector(ctx context.Context, name string) error
}

var _ Cluster = rest.Herder(nil)

// Action is what a plan does to one connector.
type Action string

// The actions, with the marks the plan prints.
const (
	Create    Action = "create"
	Update    Action = "update"
	Unchanged Action = "unchanged"
	Delete    Action = "delete"
)

// mark is the plan's sign of an action, as terraform prints them.
var mark = map[Action]string{Create: "+", Update: "~", Unchanged: "=", Delete: "-"}

// done is the past tense of an action, for Apply's report.
var done = map[Action]string{Create: "created", Update: "updated", Delete: "deleted"}

// Change is the plan for one connector.
type Change struct {
	Action Action
	Name   string
	// Want is the definition from the files (zero for Delete).
	Want connfile.Connector
	// Keys are the keys that differ: every key for Create, the changed,
	// added and removed ones for Update.
	Keys []KeyDiff
	// Unverified are literal secrets of the file that could not be compared
	// (the API masks them); they are written again when the connector is
	// updated for another key.
	Unverified []string
	patch      map[string]*string
}

// KeyDiff is one key's change; a nil Old or New means absent.
type KeyDiff struct {
	Key      string
	Old, New *string
	// Secret marks a PASSWORD-type key (per the plugin's config definition)
	// or a value the API masks; its literal values are never printed.
	Secret bool
}

// Problem is an invalid definition: the file, the connector, the key (""
// for the whole definition) and what is wrong.
type Problem struct {
	File, Connector, Key, Message string
}

// String names the file, connector and key of the problem.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File + ": ")
	}
	b.WriteString("connector " + p.Connector + ": ")
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Plan is what Apply will do: one change per connector, sorted by name,
// and the problems that stop it.
type Plan struct {
	Changes  []Change
	Problems []Problem
}

// Options adjust Make.
type Options struct {
	// Prune says whether a connector of the cluster that no file defines is
	// deleted; nil deletes none.
	Prune func(name string) bool
}

// Make compares want with the cluster and validates what would be written.
// An error is a failure to reach the cluster; invalid definitions are the
// plan's Problems.
func Make(ctx context.Context, c Cluster, want []connfile.Connector, opts Options) (*Plan, error) {
	names, err := c.Connectors(ctx)
	if err != nil {
		return nil, fmt.Errorf("list connectors: %w", err)
	}
	exists := map[string]bool{}
	for _, n := range names {
		exists[n] = true
	}
	p := &Plan{}
	wanted := map[string]bool{}
	for _, w := range want {
		wanted[w.Name] = true
		ch := Change{Action: Create, Name: w.Name, Want: w}
		var current map[string]string
		if exists[w.Name] {
			current, err = c.ConnectorConfig(ctx, w.Name)
			if err != nil {
				return nil, fmt.Errorf("config of connector %s: %w", w.Name, err)
			}
			ch.Action = Unchanged
		}
		for _, k := range slices.Sorted(maps.Keys(w.Config)) {
			if v := w.Config[k]; v == config.HiddenValue {
				if cur, ok := current[k]; !ok || cur != config.HiddenValue {
					p.Problems = append(p.Problems, Problem{w.File, w.Name, k,
						"the value is masked (" + config.HiddenValue + "); give the secret or a provider reference such as ${env:NAME}"})
				}
			}
		}
		if current != nil {
			diff(&ch, current)
		} else {
			for _, k := range slices.Sorted(maps.Keys(w.Config)) {
				ch.Keys = append(ch.Keys, KeyDiff{Key: k, New: ptr(w.Config[k])})
			}
		}
		if ch.Action != Unchanged {
			problems, secrets, err := validate(ctx, c, w)
			if err != nil {
				return nil, err
			}
			p.Problems = append(p.Problems, problems...)
			for i := range ch.Keys {
				if secrets[ch.Keys[i].Key] {
					ch.Keys[i].Secret = true
				}
			}
		}
		p.Changes = append(p.Changes, ch)
	}
	for _, n := range names {
		if !wanted[n] && opts.Prune != nil && opts.Prune(n) {
			p.Changes = append(p.Changes, Change{Action: Delete, Name: n})
		}
	}
	slices.SortFunc(p.Changes, func(a, b Change) int { return cmp.Compare(a.Name, b.Name) })
	return p, nil
}

// diff fills an existing connector's change from its current (masked)
// config: the differing keys, and the patch that makes the cluster match.
func diff(ch *Change, current map[string]string) {
	want := ch.Want.Config
	patch := map[string]*string{}
	for _, k := range slices.Sorted(maps.Keys(union(want, current))) {
		w, inW := want[k]
		cur, inC := current[k]
		switch {
		case inW && w == config.HiddenValue:
			continue // keep the cluster's secret
		case inW && inC && cur == config.HiddenValue && !isReference(w):
			ch.Unverified = append(ch.Unverified, k)
			continue
		case inW && inC && w == cur:
			continue
		}
		d := KeyDiff{Key: k, Secret: cur == config.HiddenValue}
		if inC {
			d.Old = ptr(cur)
		}
		if inW {
			d.New = ptr(w)
		}
		ch.Keys = append(ch.Keys, d)
		patch[k] = d.New
	}
	if len(patch) == 0 {
		return
	}
	for _, k := range ch.Unverified {
		patch[k] = ptr(want[k])
	}
	ch.Action, ch.patch = Update, patch
}

// validate validates a definition's config with its plugin's validation
// and returns its invalid keys and its PASSWORD-type keys.
func validate(ctx context.Context, c Cluster, w connfile.Connector) ([]Problem, map[string]bool, error) {
	if strings.TrimSpace(w.Config["connector.class"]) == "" {
		return []Problem{{w.File, w.Name, "connector.class", "missing: it names the connector plugin"}}, nil, nil
	}
	infos, err := c.ValidateConfig(ctx, w.Config)
	if err != nil {
		if isRefusal(err) {
			return []Problem{{w.File, w.Name, "", refusalMessage(err)}}, nil, nil
		}
		return nil, nil, fmt.Errorf("validate connector %s: %w", w.Name, err)
	}
	var problems []Problem
	secrets := map[string]bool{}
	for _, ci := range infos.Configs {
		if ci.Definition.Type == config.Password {
			secrets[ci.Definition.Name] = true
		}
		for _, e := range ci.Value.Errors {
			problems = append(problems, Problem{w.File, w.Name, ci.Value.Name, e})
		}
	}
	if infos.ErrorCount > 0 && len(problems) == 0 {
		problems = append(problems, Problem{w.File, w.Name, "", fmt.Sprintf("%d invalid value(s)", infos.ErrorCount)})
	}
	return problems, secrets, nil
}

// isRefusal reports whether err is the API refusing the request (4xx), as
// for an unknown connector.class, rather than failing to answer.
func isRefusal(err error) bool {
	var re *rest.Error
	if errors.As(err, &re) {
		return re.Status >= 400 && re.Status < 500
	}
	var ae *restclient.APIError
	return errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500
}

// refusalMessage is the server's message of a refusal.
func refusalMessage(err error) string {
	var ae *restclient.APIError
	if errors.As(err, &ae) {
		return ae.Message
	}
	return err.Error()
}

func union(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

func ptr(s string) *string { return &s }

// isReference reports whether v is a config provider reference such as
// ${env:NAME}, which the API shows as it is.
func isReference(v string) bool { return strings.HasPrefix(v, "${") }

// Counts returns how many changes of each action the plan has.
func (p *Plan) Counts() map[Action]int {
	out := map[Action]int{}
	for _, c := range p.Changes {
		out[c.Action]++
	}
	return out
}

// Pending reports whether applying the plan changes anything.
func (p *Plan) Pending() bool {
	n := p.Counts()
	return n[Create]+n[Update]+n[Delete] > 0
}

// Write prints the plan: each connector with its mark, the keys of a
// create or update (secrets as "(sensitive)" unless they are provider
// references), the problems, and a summary line.
func (p *Plan) Write(w io.Writer) error {
	var b strings.Builder
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "%s %s", mark[c.Action], c.Name)
		switch c.Action {
		case Create, Update:
			fmt.Fprintf(&b, " (%s, from %s)\n", c.Action, c.Want.File)
		case Unchanged:
			b.WriteString(" (unchanged)\n")
		case Delete:
			b.WriteString(" (delete: in no file)\n")
		}
		for _, k := range c.Keys {
			switch {
			case c.Action == Create:
				fmt.Fprintf(&b, "    %s = %s\n", k.Key, show(k.New, k.Secret))
			case k.Old == nil:
				fmt.Fprintf(&b, "    + %s = %s\n", k.Key, show(k.New, k.Secret))
			case k.New == nil:
				fmt.Fprintf(&b, "    - %s = %s\n", k.Key, show(k.Old, k.Secret))
			default:
				fmt.Fprintf(&b, "    ~ %s: %s -> %s\n", k.Key, show(k.Old, k.Secret), show(k.New, k.Secret))
			}
		}
		if c.Action == Create {
			if s := c.Want.InitialState; s != "" && s != rest.StateRunning {
				fmt.Fprintf(&b, "    (initial state %s)\n", s)
			}
			if n := len(c.Want.Offsets); n > 0 {
				fmt.Fprintf(&b, "    (offsets of %d partition(s) written before it starts)\n", n)
			}
		}
		if c.Action == Update && len(c.Unverified) > 0 {
			fmt.Fprintf(&b, "    (secrets written again: %s)\n", strings.Join(c.Unverified, ", "))
		}
	}
	n := p.Counts()
	if len(p.Problems) > 0 {
		fmt.Fprintf(&b, "\nInvalid connector configs; nothing will change:\n")
		for _, pr := range p.Problems {
			fmt.Fprintf(&b, "  %s\n", pr)
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	if !p.Pending() {
		fmt.Fprintf(&b, "No changes: the cluster matches the files (%d connector(s)).\n", n[Unchanged])
	} else {
		fmt.Fprintf(&b, "\nPlan: %d to create, %d to update, %d to delete, %d unchanged.\n", n[Create], n[Update], n[Delete], n[Unchanged])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// show renders a value for the plan.
func show(v *string, secret bool) string {
	if secret && !isReference(*v) {
		return "(sensitive)"
	}
	return fmt.Sprintf("%q", *v)
}

// ErrInvalid is returned by Apply for a plan with problems.
var ErrInvalid = errors.New("invalid connector configs")

// Apply carries out the plan: creates (with their initial state and
// offsets), then updates (PATCH of the differing keys, so secrets the API
// masks stay as they are), then deletes, reporting each to w. A plan with
// problems changes nothing and returns an error wrapping ErrInvalid.
func (p *Plan) Apply(ctx context.Context, c Cluster, w io.Writer) error {
	if len(p.Problems) > 0 {
		return fmt.Errorf("%w: %d problem(s), first: %s", ErrInvalid, len(p.Problems), p.Problems[0])
	}
	for _, a := range []Action{Create, Update, Delete} {
		for _, ch := range p.Changes {
			if ch.Action != a {
				continue
			}
			if err := apply(ctx, c, ch); err != nil {
				return fmt.Errorf("%s connector %s: %w", a, ch.Name, err)
			}
			fmt.Fprintf(w, "%s %s\n", done[a], ch.Name)
		}
	}
	return nil
}

// apply carries out one change.
func apply(ctx context.Context, c Cluster, ch Change) error {
	switch ch.Action {
	case Update:
		_, err := c.PatchConnectorConfig(ctx, ch.Name, ch.patch)
		return err
	case Delete:
		return c.DeleteConnector(ctx, ch.Name)
	case Create:
	default:
		return nil
	}
	state := ch.Want.InitialState
	if len(ch.Want.Offsets) > 0 {
		// Offsets can be written only while the connector is STOPPED: it
		// is created stopped and moved to its state after.
		state = rest.StateStopped
	}
	if _, _, err := c.PutConnectorConfig(ctx, ch.Name, ch.Want.Config, state, false); err != nil {
		return err
	}
	if len(ch.Want.Offsets) == 0 {
		return nil
	}
	if _, err := c.AlterOffsets(ctx, ch.Name, rest.ConnectorOffsets{Offsets: ch.Want.Offsets}); err != nil {
		return fmt.Errorf("write offsets: %w", err)
	}
	switch ch.Want.InitialState {
	case "", rest.StateRunning:
		return c.ResumeConnector(ctx, ch.Name)
	case rest.StatePaused:
		return c.PauseConnector(ctx, ch.Name)
	}
	return nil
}
