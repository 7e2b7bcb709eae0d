package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/penstockhq/penstock/connect/converters/srclient"
)

func init() { rootCmd.AddCommand(newSchemasCmd()) }

// registryEnv names the environment variable that sets the default of
// --schema-registry in client commands.
const registryEnv = "PENSTOCK_SCHEMA_REGISTRY"

// registryCACertEnv names the environment variable that sets the default of
// --schema-registry-cacert.
const registryCACertEnv = "PENSTOCK_SCHEMA_REGISTRY_CACERT"

// registryConn is how client commands reach the schema registry.
type registryConn struct {
	url, cacert string
}

// registerRegistryURL adds the client commands' --schema-registry URL flag
// and its CA flag.
func registerRegistryURL(cmd *cobra.Command, r *registryConn, what string) {
	def := "http://" + defaultSchemaRegistry
	if env := os.Getenv(registryEnv); env != "" {
		def = env
	}
	cmd.Flags().StringVar(&r.url, "schema-registry", def, what+
		"; credentials as https://user:password@host:port (default from $"+registryEnv+" when set)")
	cmd.Flags().StringVar(&r.cacert, "schema-registry-cacert", os.Getenv(registryCACertEnv),
		"PEM file of the CA that signed the registry's HTTPS certificate (default $"+registryCACertEnv+")")
}

// props are the converters' registry keys for r.
func (r registryConn) props() map[string]string {
	props := map[string]string{srclient.KeyURL: r.url}
	if r.cacert != "" {
		props[srclient.KeySSLTruststoreLocation] = r.cacert
	}
	return props
}

// client returns a registry client for r: its URLs, the credentials in
// them (Confluent's basic.auth.credentials.source=URL) and the CA.
func (r registryConn) client() (*srclient.Client, error) {
	v, err := srclient.Def.Parse(r.props())
	if err != nil {
		return nil, err
	}
	return srclient.New(v, false)
}

// newSchemasCmd returns `penstock schemas`.
func newSchemasCmd() *cobra.Command {
	var reg registryConn
	var output string
	cmd := &cobra.Command{
		Use:   "schemas [SUBJECT]",
		Short: "List the schema registry's subjects, or show one subject's versions",
		Long: "Without SUBJECT, list every subject of the schema registry with its versions, latest schema id,\n" +
			"type and compatibility level. With SUBJECT, print each of its versions with id, type and schema.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			rc, err := reg.client()
			if err != nil {
				return fmt.Errorf("schema registry %s: %w", reg.url, err)
			}
			cl := rc.SR()
			ctx, cancel := context.WithTimeout(commandContext(cmd), 30*time.Second)
			defer cancel()
			if len(args) == 1 {
				return showSubject(ctx, cmd.OutOrStdout(), cl, args[0], output)
			}
			return listSubjects(ctx, cmd.OutOrStdout(), cl, output)
		},
	}
	registerRegistryURL(cmd, &reg, "schema registry URL(s), comma-separated")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

// subjectInfo is one line of `penstock schemas`.
type subjectInfo struct {
	Subject       string `json:"subject"`
	Versions      []int  `json:"versions"`
	LatestID      int    `json:"latest_id"`
	Type          string `json:"type"`
	Compatibility string `json:"compatibility"`
}

func listSubjects(ctx context.Context, w io.Writer, cl *sr.Client, output string) error {
	subjects, err := cl.Subjects(ctx)
	if err != nil {
		return fmt.Errorf("list subjects: %w", err)
	}
	infos := make([]subjectInfo, 0, len(subjects))
	for _, s := range subjects {
		vs, err := cl.SubjectVersions(ctx, s)
		if err != nil {
			return fmt.Errorf("versions of %s: %w", s, err)
		}
		latest, err := cl.SchemaByVersion(ctx, s, -1)
		if err != nil {
			return fmt.Errorf("latest version of %s: %w", s, err)
		}
		info := subjectInfo{Subject: s, Versions: vs, LatestID: latest.ID, Type: latest.Type.String()}
		if res := cl.Compatibility(sr.WithParams(ctx, sr.DefaultToGlobal), s); len(res) == 1 && res[0].Err == nil {
			info.Compatibility = res[0].Level.String()
		}
		infos = append(infos, info)
	}
	if output == "json" {
		return writeJSON(w, infos)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "SUBJECT\tVERSIONS\tLATEST ID\tTYPE\tCOMPATIBILITY")
	for _, i := range infos {
		vs := make([]string, len(i.Versions))
		for j, v := range i.Versions {
			vs[j] = fmt.Sprint(v)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", i.Subject, strings.Join(vs, ","), i.LatestID, i.Type, i.Compatibility)
	}
	return tw.Flush()
}

func showSubject(ctx context.Context, w io.Writer, cl *sr.Client, subject, output string) error {
	all, err := cl.Schemas(ctx, subject)
	if err != nil {
		return fmt.Errorf("subject %s: %w", subject, err)
	}
	if output == "json" {
		return writeJSON(w, all)
	}
	for _, s := range all {
		if _, err := fmt.Fprintf(w, "version %d\tid %d\t%s\n%s\n", s.Version, s.ID, s.Type, s.Schema.Schema); err != nil {
			return err
		}
	}
	return nil
}
