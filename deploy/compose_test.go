// Package deploy holds the files docker-compose.yml (at the repository
// root) mounts into its containers: the workers' properties and the setup
// script. Its tests check the compose file, the Dockerfile and those files,
// since no container engine runs in the test environment.
package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/penstockhq/penstock/worker"
)

// root is the repository root, where docker-compose.yml lives.
const root = ".."

// oneShot are the services that run once and exit: their exit status is
// their result, so they have no health check.
var oneShot = []string{"setup"}

// loadProject loads docker-compose.yml with the compose specification's
// reference loader: schema validation, interpolation, consistency checks.
func loadProject(t *testing.T) *types.Project {
	t.Helper()
	dir, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "docker-compose.yml")
	p, err := loader.LoadWithContext(t.Context(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: file}},
		Environment: types.Mapping{},
	})
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

// workers returns the services that run `penstock worker`, sorted.
func workers(p *types.Project) []types.ServiceConfig {
	var out []types.ServiceConfig
	for _, s := range p.Services {
		if len(s.Command) > 0 && s.Command[0] == "worker" {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b types.ServiceConfig) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func TestComposeLoads(t *testing.T) {
	p := loadProject(t)
	for _, name := range []string{"broker", "worker-1", "worker-2", "worker-3", "postgres", "mysql", "elasticsearch", "s3", "setup"} {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("service %s is missing", name)
		}
	}
}

func TestComposeHealthChecks(t *testing.T) {
	p := loadProject(t)
	for name, s := range p.Services {
		if slices.Contains(oneShot, name) {
			if s.HealthCheck != nil && !s.HealthCheck.Disable {
				t.Errorf("one-shot service %s has a health check", name)
			}
			continue
		}
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Test[0] == "NONE" {
			t.Errorf("service %s has no health check", name)
			continue
		}
		if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil {
			t.Errorf("service %s: health check without interval, timeout or retries", name)
		}
	}
	// Penstock's own checks use its client commands (the image has no shell).
	if hc := p.Services["broker"].HealthCheck; hc == nil || !slices.Equal(hc.Test[:4], []string{"CMD", "penstock", "topics", "list"}) {
		t.Errorf("broker health check: %v", hc)
	}
	for _, w := range workers(p) {
		if hc := w.HealthCheck; hc == nil || !slices.Equal(hc.Test[:3], []string{"CMD", "penstock", "health"}) {
			t.Errorf("%s health check: %v", w.Name, hc)
		}
	}
}

func TestComposeDependencies(t *testing.T) {
	p := loadProject(t)
	for name, s := range p.Services {
		for dep, d := range s.DependsOn {
			if d.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s depends on %s with condition %q, want service_healthy", name, dep, d.Condition)
			}
		}
	}
	ws := workers(p)
	if len(ws) != 3 {
		t.Fatalf("%d worker services, want 3", len(ws))
	}
	setup := p.Services["setup"]
	for _, w := range ws {
		if d, ok := setup.DependsOn[w.Name]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("setup does not wait for %s to be healthy", w.Name)
		}
		if d, ok := w.DependsOn["broker"]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("%s does not wait for the broker to be healthy", w.Name)
		}
	}
	for _, svc := range []string{"postgres", "elasticsearch", "s3"} {
		if _, ok := setup.DependsOn[svc]; !ok {
			t.Errorf("setup does not wait for %s", svc)
		}
	}
	if setup.Restart != "no" {
		t.Errorf("setup restart policy %q, want \"no\"", setup.Restart)
	}
}

func TestComposeVolumes(t *testing.T) {
	p := loadProject(t)
	stateful := map[string]string{
		"broker":        "/data",
		"postgres":      "/var/lib/postgresql/data",
		"mysql":         "/var/lib/mysql",
		"elasticsearch": "/usr/share/elasticsearch/data",
		"s3":            "/data",
	}
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			switch v.Type {
			case types.VolumeTypeVolume:
				if _, ok := p.Volumes[v.Source]; !ok {
					t.Errorf("%s mounts volume %q, which is not declared", name, v.Source)
				}
				if stateful[name] == v.Target {
					delete(stateful, name)
				}
			case types.VolumeTypeBind:
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("%s mounts %s, which does not exist: %v", name, v.Source, err)
				}
				if !v.ReadOnly {
					t.Errorf("%s mounts %s writable; configuration mounts are read-only", name, v.Source)
				}
			}
		}
	}
	for name, target := range stateful {
		t.Errorf("service %s keeps %s in no named volume", name, target)
	}
}

// TestComposeWorkers checks the workers form one group: their properties
// files parse as worker configs, share group.id, internal topics and
// bootstrap servers (the broker's advertised address), and each advertises
// its own service name.
func TestComposeWorkers(t *testing.T) {
	p := loadProject(t)
	broker := p.Services["broker"]
	advertise := flagValue(broker.Command, "--advertise")
	if advertise != "broker:9092" {
		t.Errorf("broker advertises %q, want broker:9092", advertise)
	}
	if flagValue(broker.Command, "--listen") != "0.0.0.0:9092" || flagValue(broker.Command, "--data") != "/data" {
		t.Errorf("broker command %v", broker.Command)
	}
	var first *worker.Config
	for _, w := range workers(p) {
		if got := flagValue(w.Command, "--config"); got != "/etc/penstock/worker.properties" {
			t.Errorf("%s: --config %q", w.Name, got)
			continue
		}
		var src string
		for _, v := range w.Volumes {
			if v.Target == "/etc/penstock/worker.properties" {
				src = v.Source
			}
		}
		if src == "" {
			t.Errorf("%s: no properties file mounted at /etc/penstock/worker.properties", w.Name)
			continue
		}
		cfg, err := worker.LoadConfig(src)
		if err != nil {
			t.Errorf("%s: %v", w.Name, err)
			continue
		}
		if !slices.Equal(cfg.BootstrapServers, []string{advertise}) {
			t.Errorf("%s: bootstrap.servers %v, want the broker's advertised %s", w.Name, cfg.BootstrapServers, advertise)
		}
		if cfg.AdvertisedHost != w.Name || w.Hostname != w.Name {
			t.Errorf("%s: advertises host %q (hostname %q), want its service name", w.Name, cfg.AdvertisedHost, w.Hostname)
		}
		if got := cfg.ListenAddr(); got != "0.0.0.0:8083" {
			t.Errorf("%s: listens on %q", w.Name, got)
		}
		if first == nil {
			first = cfg
			continue
		}
		if cfg.GroupID != first.GroupID || cfg.ConfigTopic != first.ConfigTopic || cfg.OffsetTopic != first.OffsetTopic || cfg.StatusTopic != first.StatusTopic {
			t.Errorf("%s: group %s topics %s/%s/%s differ from the first worker's %s %s/%s/%s", w.Name,
				cfg.GroupID, cfg.ConfigTopic, cfg.OffsetTopic, cfg.StatusTopic,
				first.GroupID, first.ConfigTopic, first.OffsetTopic, first.StatusTopic)
		}
		// The connectors' ${env:...} secrets must be in every worker's environment.
		if _, ok := w.Environment["SHOP_DB_PASSWORD"]; !ok {
			t.Errorf("%s: SHOP_DB_PASSWORD not set", w.Name)
		}
	}
	if first == nil || first.GroupID != "penstock" {
		t.Errorf("workers' group.id: %+v", first)
	}
}

func TestComposeDatabases(t *testing.T) {
	p := loadProject(t)
	pg := strings.Join(p.Services["postgres"].Command, " ")
	if !strings.Contains(pg, "wal_level=logical") {
		t.Errorf("postgres command %q lacks wal_level=logical", pg)
	}
	my := strings.Join(p.Services["mysql"].Command, " ")
	for _, want := range []string{"--server-id=", "--log-bin", "--binlog-format=ROW", "--binlog-row-image=FULL"} {
		if !strings.Contains(my, want) {
			t.Errorf("mysql command %q lacks %s", my, want)
		}
	}
	es := p.Services["elasticsearch"].Environment
	for k, want := range map[string]string{"discovery.type": "single-node", "xpack.security.enabled": "false"} {
		if v := es[k]; v == nil || *v != want {
			t.Errorf("elasticsearch %s = %v, want %s", k, v, want)
		}
	}
	if v := es["ES_JAVA_OPTS"]; v == nil || !strings.Contains(*v, "-Xmx") {
		t.Error("elasticsearch heap not bounded (ES_JAVA_OPTS -Xmx)")
	}
	// The setup job creates the bucket the S3 service serves, with its keys.
	s3, setup := p.Services["s3"].Environment, p.Services["setup"].Environment
	if *s3["ROOT_ACCESS_KEY"] != *setup["S3_ACCESS_KEY"] || *s3["ROOT_SECRET_KEY"] != *setup["S3_SECRET_KEY"] {
		t.Error("setup's S3 credentials differ from the S3 service's")
	}
}

// flagValue returns the value after flag in args ("--flag value" or
// "--flag=value"), or "".
func flagValue(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	for _, re := range []string{
		`(?m)^FROM .* AS build$`,                     // multi-stage
		`CGO_ENABLED=0`,                              // static
		`go build -trimpath`,                         // reproducible paths
		`\./cmd/penstock`,                            // the one binary
		`(?m)^FROM gcr\.io/distroless/static[^ ]*\n`, // minimal final image
		`(?m)^USER 65532:65532$`,                     // non-root
		`(?m)^ENTRYPOINT \["/usr/local/bin/penstock"]$`,
	} {
		if !regexp.MustCompile(re).MatchString(df) {
			t.Errorf("Dockerfile does not match %s", re)
		}
	}
	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^\.git$`).Match(ignore) {
		t.Error(".dockerignore does not exclude .git")
	}
}
