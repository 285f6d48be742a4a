package main

// The template engine: Go text/template with the sprig function library and the Helm
// functions this repository's chart uses (include, tpl, required, toYaml, toJson, fromYaml,
// fromJson, lookup), Helm's built-in objects (.Values, .Release, .Chart, .Capabilities,
// .Template, .Files), Helm's handling of missing keys and its error messages.
//
// It is a test tool, not a Helm replacement: no subcharts, no hooks lifecycle, no cluster.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/semver"
	"github.com/Masterminds/sprig"
	"sigs.k8s.io/yaml"
)

// Values is the type of .Values. Helm's is a named map type too (chartutil.Values), so
// functions that type-assert map[string]interface{} (sprig's dig) fail on .Values itself
// here as they do in Helm.
type Values map[string]interface{}

// Release is .Release.
type Release struct {
	Name      string
	Namespace string
	Revision  int
	IsUpgrade bool
}

// KubeVersion is .Capabilities.KubeVersion.
type KubeVersion struct {
	Version    string
	Major      string
	Minor      string
	GitVersion string
}

func (k KubeVersion) String() string { return k.Version }

// VersionSet is .Capabilities.APIVersions.
type VersionSet []string

// Has reports whether an API version ("monitoring.coreos.com/v1") or a version/kind
// ("monitoring.coreos.com/v1/ServiceMonitor") is known.
func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// Capabilities is .Capabilities.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion map[string]string
}

// DefaultAPIVersions are the built-in groups of a plain cluster (no CRDs), like
// `helm template` without --api-versions.
var DefaultAPIVersions = VersionSet{
	"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v1", "autoscaling/v2",
	"networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "storage.k8s.io/v1",
	"apiextensions.k8s.io/v1", "coordination.k8s.io/v1", "scheduling.k8s.io/v1",
}

// NewCapabilities builds .Capabilities for a Kubernetes version such as "v1.30.0".
func NewCapabilities(kubeVersion string, extraAPIs []string) (Capabilities, error) {
	v, err := semver.NewVersion(kubeVersion)
	if err != nil {
		return Capabilities{}, fmt.Errorf("kube version %q: %w", kubeVersion, err)
	}
	apis := append(VersionSet{}, DefaultAPIVersions...)
	apis = append(apis, extraAPIs...)
	return Capabilities{
		KubeVersion: KubeVersion{
			Version:    "v" + v.String(),
			Major:      fmt.Sprint(v.Major()),
			Minor:      fmt.Sprint(v.Minor()),
			GitVersion: "v" + v.String(),
		},
		APIVersions: apis,
		HelmVersion: map[string]string{"version": "v3-compatible (pgq-render)"},
	}, nil
}

// RenderOptions select what to render and how.
type RenderOptions struct {
	Release      Release
	Capabilities Capabilities
	// Only renders just these templates (names relative to the chart, e.g.
	// "templates/deployment.yaml"); empty means every template.
	Only []string
	// Strict turns a reference to a missing map key into an error (helm lint --strict).
	Strict bool
	// Notes also renders templates/NOTES.txt.
	Notes bool
}

// Rendered is the output of one template file.
type Rendered struct {
	Name    string // "<chart>/templates/x.yaml"
	Content string
}

const maxIncludeDepth = 1000

// Render executes the chart's templates with the given (already coalesced) values.
func Render(c *Chart, vals map[string]interface{}, opt RenderOptions) ([]Rendered, error) {
	if c.Meta.KubeVersion != "" {
		cons, _ := semver.NewConstraint(c.Meta.KubeVersion)
		kv, err := semver.NewVersion(opt.Capabilities.KubeVersion.Version)
		if err != nil {
			return nil, err
		}
		if !cons.Check(kv) {
			return nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s",
				c.Meta.KubeVersion, opt.Capabilities.KubeVersion.Version)
		}
	}

	root := template.New("gotpl")
	if opt.Strict {
		root.Option("missingkey=error")
	} else {
		root.Option("missingkey=zero")
	}
	depth := 0
	funcs := sprig.TxtFuncMap()
	// Like Helm: templates do not read the renderer's environment.
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["toJson"] = toJSON
	funcs["fromJson"] = fromJSON
	funcs["required"] = required
	funcs["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		depth++
		defer func() { depth-- }()
		if depth > maxIncludeDepth {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		name := "tpl"
		if m, ok := data.(map[string]interface{}); ok {
			if tm, ok := m["Template"].(map[string]interface{}); ok {
				name = fmt.Sprint(tm["Name"])
			}
		}
		if _, err := t.New(name).Parse(text); err != nil {
			return "", fmt.Errorf("cannot parse template %q: %w", text, err)
		}
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, name, data); err != nil {
			return "", fmt.Errorf("error calling tpl: %w", err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	root.Funcs(funcs)

	names := c.SortedTemplateNames()
	for _, n := range names {
		if _, err := root.New(n).Parse(c.Templates[n]); err != nil {
			return nil, cleanError(err)
		}
	}

	want := map[string]bool{}
	for _, o := range opt.Only {
		want[c.Meta.Name+"/"+strings.TrimPrefix(o, "./")] = true
	}
	var out []Rendered
	for _, n := range names {
		base := n[strings.LastIndex(n, "/")+1:]
		if strings.HasPrefix(base, "_") {
			continue
		}
		if base == "NOTES.txt" && !opt.Notes {
			continue
		}
		if len(want) > 0 && !want[n] {
			continue
		}
		data := map[string]interface{}{
			"Values": Values(vals),
			"Release": map[string]interface{}{
				"Name": opt.Release.Name, "Namespace": opt.Release.Namespace,
				"Revision": opt.Release.Revision, "IsUpgrade": opt.Release.IsUpgrade,
				"IsInstall": !opt.Release.IsUpgrade, "Service": "Helm",
			},
			"Chart":        c.Meta,
			"Capabilities": opt.Capabilities,
			"Files":        c.Files,
			"Template": map[string]interface{}{
				"Name": n, "BasePath": c.Meta.Name + "/templates",
			},
			"Subcharts": map[string]interface{}{},
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, n, data); err != nil {
			return nil, cleanError(err)
		}
		out = append(out, Rendered{Name: n, Content: strings.ReplaceAll(buf.String(), "<no value>", "")})
	}
	for n := range want {
		if _, ok := c.Templates[n]; !ok {
			return nil, fmt.Errorf("template %s not found", n)
		}
	}
	return out, nil
}

var execErrRe = regexp.MustCompile(`(?s)template: ([^:]+):(\d+):(\d+): executing "[^"]*" at <[^>]*>: error calling (?:fail|required|include|tpl): (.*)$`)

// cleanError turns Go's nested template error into Helm's shape:
// "execution error at (chart/templates/x.yaml:12:3): message".
func cleanError(err error) error {
	msg := err.Error()
	// The innermost "error calling fail/required" carries the user's message; report the
	// location of the outermost frame, as Helm does.
	if m := execErrRe.FindStringSubmatch(msg); m != nil {
		inner := m[4]
		for {
			mm := execErrRe.FindStringSubmatch(inner)
			if mm == nil {
				break
			}
			inner = mm[4]
		}
		inner = strings.TrimPrefix(inner, "error calling tpl: ")
		return fmt.Errorf("execution error at (%s:%s:%s): %s", m[1], m[2], m[3], inner)
	}
	return err
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func required(msg string, v interface{}) (interface{}, error) {
	if v == nil {
		return v, fmt.Errorf("%s", msg)
	}
	if s, ok := v.(string); ok && s == "" {
		return v, fmt.Errorf("%s", msg)
	}
	return v, nil
}

// Document is one YAML document of the rendered output.
type Document struct {
	Source string                 // template it came from
	Text   string                 // YAML text
	Object map[string]interface{} // parsed; nil for an empty document
}

var docSepRe = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// SplitDocuments splits YAML text at "---" lines and parses every non-empty document.
func SplitDocuments(source, text string) ([]Document, error) {
	var docs []Document
	for _, part := range docSepRe.Split(text, -1) {
		if strings.TrimSpace(stripComments(part)) == "" {
			continue
		}
		obj := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(part), &obj); err != nil {
			return nil, fmt.Errorf("YAML parse error in %s: %v\n%s", source, err, numbered(part))
		}
		docs = append(docs, Document{Source: source, Text: part, Object: obj})
	}
	return docs, nil
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func numbered(s string) string {
	var b strings.Builder
	for i, line := range strings.Split(s, "\n") {
		fmt.Fprintf(&b, "%4d | %s\n", i+1, line)
	}
	return b.String()
}

// installOrder is Helm's kind order for `helm template` output.
var installOrder = []string{
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
	"PodDisruptionBudget", "ServiceAccount", "Secret", "ConfigMap", "StorageClass",
	"PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
	"ClusterRoleBinding", "Role", "RoleBinding", "Service", "DaemonSet", "Pod",
	"ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler",
	"StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
}

func kindRank(kind string) int {
	for i, k := range installOrder {
		if k == kind {
			return i
		}
	}
	return len(installOrder)
}

func isHook(d Document) bool {
	md, _ := d.Object["metadata"].(map[string]interface{})
	ann, _ := md["annotations"].(map[string]interface{})
	_, ok := ann["helm.sh/hook"]
	return ok
}

// SortDocuments orders documents like `helm template`: by kind install order, hooks last.
func SortDocuments(docs []Document) {
	sort.SliceStable(docs, func(i, j int) bool {
		hi, hj := isHook(docs[i]), isHook(docs[j])
		if hi != hj {
			return !hi
		}
		ki, _ := docs[i].Object["kind"].(string)
		kj, _ := docs[j].Object["kind"].(string)
		return kindRank(ki) < kindRank(kj)
	})
}
