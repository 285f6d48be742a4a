// Command pgq-render renders and checks this repository's Helm chart without Helm.
//
// Helm is not packaged for Debian, so CI renders the chart with this program: Go's
// text/template plus the sprig library (the same two Helm builds on) and the Helm-specific
// functions the chart uses. It implements:
//
//   - chart loading: Chart.yaml (checked like `helm lint`), values.yaml, values.schema.json,
//     templates/, .helmignore, other files as .Files (Get, GetBytes, Lines, Glob);
//   - values: -f files stacked in order, --set/--set-string, coalesced over the chart
//     defaults the way Helm does (a null removes a default), then validated against
//     values.schema.json (JSON Schema draft 7, like Helm);
//   - functions: all of sprig except env/expandenv, plus include, tpl, required, toYaml,
//     fromYaml, toJson, fromJson and lookup (always empty, as in `helm template`);
//   - objects: .Values, .Release, .Chart, .Capabilities (KubeVersion, APIVersions.Has),
//     .Template (Name, BasePath), .Files;
//   - Helm's missing-key behaviour (zero value; an error with --strict, as `helm lint
//     --strict`), "<no value>" removal, Helm-shaped error messages
//     ("execution error at (chart/templates/x.yaml:L:C): message"), output sorted in Helm's
//     kind order with hooks last and "# Source:" comments;
//   - checks on the output, like `helm lint`: every document parses as YAML and has
//     apiVersion, kind and a valid metadata.name; labels are valid; no duplicate objects.
//
// It does not implement subcharts, Chart.lock, hooks' lifecycle, `lookup` against a cluster
// or any install/upgrade logic.
//
// Usage:
//
//	pgq-render template CHART [-f VALUES]... [--set K=V]... [--set-string K=V]...
//	           [--name RELEASE] [--namespace NS] [--kube-version v1.30.0]
//	           [--api-versions GROUP/VERSION]... [--strict] [--notes FILE] [--json FILE]
//	pgq-render unittest CHART [-v]
//	pgq-render yaml2json [FILE]...        multi-document YAML (or stdin) -> JSON array
//	pgq-render generate [--check] [ROOT]  rewrite (or, with --check, verify) the deploy files
//	                                      generated from the chart; see generate.go
//
// Exit status: 0 success, 1 rendering or test failure, 2 usage error.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func usage() {
	fmt.Fprintln(os.Stderr, "usage: pgq-render template CHART [-f VALUES]... [--set K=V]... [options]")
	fmt.Fprintln(os.Stderr, "       pgq-render unittest CHART [-v]")
	fmt.Fprintln(os.Stderr, "       pgq-render yaml2json [FILE]...")
	fmt.Fprintln(os.Stderr, "       pgq-render generate [--check] [ROOT]")
	os.Exit(2)
}

// parseInterleaved parses flags that may come before or after positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) []string {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			os.Exit(2)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "template":
		err = cmdTemplate(os.Args[2:])
	case "unittest":
		err = cmdUnittest(os.Args[2:])
	case "yaml2json":
		err = cmdYAML2JSON(os.Args[2:])
	case "generate":
		err = cmdGenerate(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}

func cmdTemplate(args []string) error {
	fs := flag.NewFlagSet("template", flag.ContinueOnError)
	var valueFiles, sets, setStrings, apis multiFlag
	fs.Var(&valueFiles, "f", "values file (repeatable)")
	fs.Var(&valueFiles, "values", "values file (repeatable)")
	fs.Var(&sets, "set", "key=value (repeatable)")
	fs.Var(&setStrings, "set-string", "key=value kept as a string (repeatable)")
	fs.Var(&apis, "api-versions", "extra API version for .Capabilities.APIVersions (repeatable)")
	name := fs.String("name", "release-name", "release name")
	namespace := fs.String("namespace", "default", "release namespace")
	kube := fs.String("kube-version", "v1.30.0", "Kubernetes version for .Capabilities")
	strict := fs.Bool("strict", false, "fail on references to missing values keys")
	notes := fs.String("notes", "", "also render NOTES.txt into this file")
	jsonOut := fs.String("json", "", "also write the objects as a JSON array to this file")
	pos := parseInterleaved(fs, args)
	if len(pos) != 1 {
		usage()
	}
	c, err := LoadChart(pos[0])
	if err != nil {
		return err
	}
	user := map[string]interface{}{}
	for _, f := range valueFiles {
		v, err := ReadValuesFile(f)
		if err != nil {
			return err
		}
		user = MergeMaps(user, v)
	}
	for _, s := range sets {
		if err := ParseSet(user, s, false); err != nil {
			return err
		}
	}
	for _, s := range setStrings {
		if err := ParseSet(user, s, true); err != nil {
			return err
		}
	}
	vals := Coalesce(c.Values, user)
	if err := ValidateSchema(c.Meta.Name, c.Schema, vals); err != nil {
		return err
	}
	caps, err := NewCapabilities(*kube, apis)
	if err != nil {
		return err
	}
	rendered, err := Render(c, vals, RenderOptions{
		Release:      Release{Name: *name, Namespace: *namespace, Revision: 1},
		Capabilities: caps, Strict: *strict, Notes: true,
	})
	if err != nil {
		return err
	}
	var docs []Document
	for _, r := range rendered {
		if strings.HasSuffix(r.Name, "/NOTES.txt") {
			if *notes != "" {
				if err := os.WriteFile(*notes, []byte(r.Content), 0o644); err != nil {
					return err
				}
			}
			continue
		}
		d, err := SplitDocuments(r.Name, r.Content)
		if err != nil {
			return err
		}
		docs = append(docs, d...)
	}
	SortDocuments(docs)
	if err := LintObjects(docs); err != nil {
		return err
	}
	for _, d := range docs {
		fmt.Printf("---\n# Source: %s\n%s\n", d.Source, strings.Trim(d.Text, "\n"))
	}
	if *jsonOut != "" {
		return writeJSON(*jsonOut, docs)
	}
	return nil
}

func writeJSON(file string, docs []Document) error {
	type item struct {
		Source string                 `json:"source"`
		Object map[string]interface{} `json:"object"`
	}
	items := make([]item, 0, len(docs))
	for _, d := range docs {
		items = append(items, item{d.Source, d.Object})
	}
	data, err := json.MarshalIndent(items, "", " ")
	if err != nil {
		return err
	}
	if file == "-" {
		_, err = os.Stdout.Write(append(data, '\n'))
		return err
	}
	return os.WriteFile(file, append(data, '\n'), 0o644)
}

var (
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	labelValue       = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
	labelKeyName     = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
)

// Kinds whose names must be DNS-1123 labels (at most 63 characters) rather than subdomains.
var labelNamedKinds = map[string]bool{"Service": true, "Namespace": true}

// LintObjects checks what `helm lint` and the API server would refuse outright.
func LintObjects(docs []Document) error {
	seen := map[string]string{}
	var problems []string
	for _, d := range docs {
		o := d.Object
		api, _ := o["apiVersion"].(string)
		kind, _ := o["kind"].(string)
		md, _ := o["metadata"].(map[string]interface{})
		name, _ := md["name"].(string)
		where := fmt.Sprintf("%s (%s %s)", d.Source, kind, name)
		if api == "" || kind == "" {
			problems = append(problems, where+": apiVersion and kind are required")
			continue
		}
		if name == "" {
			problems = append(problems, where+": metadata.name is required")
			continue
		}
		if labelNamedKinds[kind] && (len(name) > 63 || !dns1123Label.MatchString(name)) {
			problems = append(problems, where+": name must be a DNS-1123 label (<= 63 chars)")
		} else if len(name) > 253 || !dns1123Subdomain.MatchString(name) {
			problems = append(problems, where+": name must be a DNS-1123 subdomain")
		}
		ns, _ := md["namespace"].(string)
		key := api + "/" + kind + "/" + ns + "/" + name
		if prev, dup := seen[key]; dup {
			problems = append(problems, fmt.Sprintf("%s: duplicate of an object from %s", where, prev))
		}
		seen[key] = d.Source
		problems = append(problems, checkLabels(where+" metadata.labels", md["labels"])...)
	}
	if len(problems) > 0 {
		return fmt.Errorf("rendered objects are invalid:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

func checkLabels(where string, v interface{}) []string {
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil
	}
	var out []string
	for k, val := range m {
		s, isStr := val.(string)
		if !isStr {
			out = append(out, fmt.Sprintf("%s: label %s must be a string, got %v", where, k, val))
			continue
		}
		if len(s) > 63 || !labelValue.MatchString(s) {
			out = append(out, fmt.Sprintf("%s: label %s has an invalid value %q", where, k, s))
		}
		nameOnly := k
		if i := strings.LastIndex(k, "/"); i >= 0 {
			prefix := k[:i]
			nameOnly = k[i+1:]
			if len(prefix) > 253 || !dns1123Subdomain.MatchString(prefix) {
				out = append(out, fmt.Sprintf("%s: label key %s has an invalid prefix", where, k))
			}
		}
		if len(nameOnly) > 63 || !labelKeyName.MatchString(nameOnly) {
			out = append(out, fmt.Sprintf("%s: label key %s is invalid", where, k))
		}
	}
	return out
}

func cmdUnittest(args []string) error {
	fs := flag.NewFlagSet("unittest", flag.ContinueOnError)
	verbose := fs.Bool("v", false, "print every passing test")
	kube := fs.String("kube-version", "v1.30.0", "Kubernetes version for .Capabilities")
	pos := parseInterleaved(fs, args)
	if len(pos) != 1 {
		usage()
	}
	c, err := LoadChart(pos[0])
	if err != nil {
		return err
	}
	caps, err := NewCapabilities(*kube, nil)
	if err != nil {
		return err
	}
	res, err := RunUnitTests(c, caps, *verbose)
	if err != nil {
		return err
	}
	fmt.Printf("unittest: %d suites, %d tests, %d passed, %d failed\n",
		res.Suites, res.Passed+res.Failed, res.Passed, res.Failed)
	if res.Failed > 0 {
		return fmt.Errorf("%d unit test(s) failed", res.Failed)
	}
	return nil
}

func cmdYAML2JSON(args []string) error {
	var docs []Document
	read := func(name string, r io.Reader) error {
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		d, err := SplitDocuments(name, string(data))
		if err != nil {
			return err
		}
		docs = append(docs, d...)
		return nil
	}
	if len(args) == 0 {
		if err := read("<stdin>", os.Stdin); err != nil {
			return err
		}
	}
	for _, f := range args {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		err = read(f, fh)
		fh.Close()
		if err != nil {
			return err
		}
	}
	return writeJSON("-", docs)
}
